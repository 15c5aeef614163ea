#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The README's first command (for now: the benchmarks; the distillation
# demo replaces it once the pipeline elements exist).  Installs what is missing,
# builds, and prints `bench NAME: ours X UNIT, pytorch Y UNIT, ratio R` lines
# (the arguments go to the ConvNet, NCFD and augmentation benches: --iters N,
# --threads N, --device SPEC, --no-torch).
set -euo pipefail
source "$(dirname "$0")/setup.sh" python3-torch python3-pil
# its own build dir: release flags, apart from the tests' debug build
ncfm_build_dir "$ncfm_root/build-release" --buildtype=release
bench=$ncfm_root/build-release/tests/bench
"$bench/bench-convnet" "$@"
"$bench/bench-ncfd" "$@"
# structured frequencies: the CF by fast Hadamard transforms against our Gaussian GEMM
"$bench/bench-cf-structured" "$@"
"$bench/bench-augment" "$@"
# a live 640x480 camera through the labeller, the gathering and the distillation chain
"$bench/bench-live" "$@"
# the data reader on CIFAR-10 as JPEGs, when the archive is beside the checkout
cifar=$ncfm_root/../shared/data/cifar10-jpg.tar.gz
if [ -f "$cifar" ]; then
  tree=${TMPDIR:-/tmp}/gst-ncfm-cifar10
  [ -d "$tree/cifar10/train" ] || { mkdir -p "$tree" && tar -xzf "$cifar" -C "$tree"; }
  "$bench/bench-data" --root "$tree/cifar10"
  # one NCFM class step through the whole pipeline at the reference CIFAR-10 shapes,
  # and the peak memory of that distillation
  "$bench/bench-pipeline" --root "$tree/cifar10" "$@"
fi
