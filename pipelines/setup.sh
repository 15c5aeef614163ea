#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared set-up of the README's two commands: installs the Debian packages the
# project needs (only those missing, so it is idempotent and fast the second
# time) and configures + builds BUILD_DIR (default: build).
# Source it: `source pipelines/setup.sh [extra packages...]`.
set -euo pipefail

ncfm_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ncfm_build=${NCFM_BUILD_DIR:-$ncfm_root/build}

ncfm_install_packages () {
  local wanted missing=()
  wanted=$(grep -v '^#' "$ncfm_root/pipelines/debian-packages.txt"; printf '%s\n' "$@")
  for p in $wanted; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "setup: installing ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# nvcc of a CUDA toolkit outside PATH (the usual /usr/local/cuda): the CUDA
# backend is built when it is found (meson option cuda=auto).
ncfm_cuda_path () {
  if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
    export PATH=$PATH:/usr/local/cuda/bin
  fi
}

# ncfm_build_dir DIR [meson options...]: configure once, then (re)build.
ncfm_build_dir () {
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$ncfm_root" "$@" >/dev/null || meson setup "$dir" "$ncfm_root" "$@"
  fi
  ninja -C "$dir" >/dev/null || ninja -C "$dir"
}

ncfm_install_packages "$@"
ncfm_cuda_path
