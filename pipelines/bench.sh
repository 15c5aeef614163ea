#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The README's first command (for now: the ConvNet benchmark; the distillation
# demo replaces it once the pipeline elements exist).  Installs what is missing,
# builds, and prints `bench NAME: ours X UNIT, pytorch Y UNIT, ratio R` lines.
set -euo pipefail
source "$(dirname "$0")/setup.sh" python3-torch
# its own build dir: release flags, apart from the tests' debug build
ncfm_build_dir "$ncfm_root/build-release" --buildtype=release
exec "$ncfm_root/build-release/tests/bench/bench-convnet" "$@"
