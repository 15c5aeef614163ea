#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The README's first command (for now: the ConvNet benchmark; the distillation
# demo replaces it once the pipeline elements exist).  Installs what is missing,
# builds, and prints `bench NAME: ours X UNIT, pytorch Y UNIT, ratio R` lines.
set -euo pipefail
source "$(dirname "$0")/setup.sh" python3-torch
ncfm_build_dir "$ncfm_build" --buildtype=release
exec "$ncfm_build/tests/bench/bench-convnet" "$@"
