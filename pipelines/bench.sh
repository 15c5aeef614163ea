#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The README's first command (for now: the ConvNet and NCFD benchmarks; the distillation
# demo replaces it once the pipeline elements exist).  Installs what is missing,
# builds, and prints `bench NAME: ours X UNIT, pytorch Y UNIT, ratio R` lines
# (both benchmarks take --iters N, --threads N, --device SPEC, --no-torch).
set -euo pipefail
source "$(dirname "$0")/setup.sh" python3-torch
# its own build dir: release flags, apart from the tests' debug build
ncfm_build_dir "$ncfm_root/build-release" --buildtype=release
"$ncfm_root/build-release/tests/bench/bench-convnet" "$@"
"$ncfm_root/build-release/tests/bench/bench-ncfd" "$@"
