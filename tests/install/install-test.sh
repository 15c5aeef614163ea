#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# `meson install` into a DESTDIR, then everything from the install tree only: the plugin
# (gst-inspect-1.0 ncfm and a short pipeline; it finds libncfm by its rpath), a C program
# built with `pkg-config ncfm-1.0`, `from gi.repository import Ncfm` with its override
# module (numpy), and ncfm-synset --help when the build installs it.
#   install-test.sh BUILD_ROOT PREFIX LIBDIR INCLUDEDIR BINDIR GST_SYSTEM_PLUGINS_DIR \
#                   MAKE_BLOBS CONSUMER_C HAVE_CUDA PYTHON_DIR
# (LIBDIR, INCLUDEDIR, BINDIR, PYTHON_DIR: absolute, as installed without DESTDIR;
# PYTHON_DIR empty when the build found no python3 to install the override for)
set -euo pipefail
build=$1 prefix=$2 libdir=$3 includedir=$4 bindir=$5 gst_system_plugins=$6
make_blobs=$7 consumer_c=$8 have_cuda=$9 python_dir=${10}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ncfm-install-test-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

dest=$tmp/dest
# the tests already built everything: installing must not rebuild (other tests are running)
meson install -C "$build" --no-rebuild --quiet --destdir "$dest"
"$make_blobs" idx "$tmp/blobs" 10 20 0   # data for the pipeline, before the environment

# nothing of the build tree, nor anything set by the caller, from here on
lib=$dest$libdir
unset GST_PLUGIN_PATH GST_PLUGIN_PATH_1_0 GI_TYPELIB_PATH LD_LIBRARY_PATH PKG_CONFIG_PATH \
  PKG_CONFIG_LIBDIR NCFM_CUDA_MODULE PYTHONPATH
export GST_PLUGIN_SYSTEM_PATH_1_0=$gst_system_plugins
export GST_PLUGIN_PATH_1_0=$lib/gstreamer-1.0
export GST_REGISTRY_1_0=$tmp/registry.bin
export NCFM_DEVICE=cpu

echo "== installed files"
(cd "$dest" && find . -type f | sort)
for f in "$lib"/libncfm-1.0.so.0 "$lib"/gstreamer-1.0/libgstncfm.so "$lib"/pkgconfig/ncfm-1.0.pc \
    "$dest$includedir"/ncfm-1.0/ncfm.h "$dest$includedir"/ncfm-1.0/ncfm-backend.h \
    "$dest$prefix"/share/gir-1.0/Ncfm-1.0.gir "$lib"/girepository-1.0/Ncfm-1.0.typelib; do
  [ -e "$f" ] || fail "not installed: ${f#"$dest"}"
done
override=$dest$python_dir/gi/overrides/Ncfm.py
[ -z "$python_dir" ] || [ -e "$override" ] || fail "not installed: ${override#"$dest"}"
if [ "$have_cuda" = true ]; then
  # kernels/backend.c looks for the CUDA module beside libncfm first
  [ -e "$lib/libncfm-cuda.so" ] || fail "the CUDA module is not installed beside libncfm"
fi

echo "== the plugin finds libncfm in the install tree by its rpath"
resolved=$(ldd "$lib/gstreamer-1.0/libgstncfm.so" | sed -n 's/^\s*libncfm-1.0.so.0 => \(.*\) (0x.*/\1/p')
echo "libncfm-1.0.so.0 => $resolved"
[ "$(readlink -f "$resolved")" = "$(readlink -f "$lib/libncfm-1.0.so.0")" ] \
  || fail "the installed plugin does not find libncfm in $lib"

echo "== gst-inspect-1.0 ncfm"
gst-inspect-1.0 ncfm > "$tmp/inspect.txt" || fail "gst-inspect-1.0 ncfm failed (blacklisted?)"
grep -F 'Filename' "$tmp/inspect.txt"
grep -qF "Filename                 $lib/gstreamer-1.0/libgstncfm.so" "$tmp/inspect.txt" \
  || fail "gst-inspect-1.0 did not load the installed plugin"
grep -qE '^  ncfmdistill: ' "$tmp/inspect.txt" || fail "no ncfmdistill in the installed plugin"

echo "== a pipeline"
gst-launch-1.0 -q ncfmdatasetsrc location="$tmp/blobs" batch-size=10 epochs=1 ! \
  ncfmconvnet depth=1 width=8 ! ncfmcf num-freqs=16 ! \
  ncfmdistill location="$tmp/synset.safetensors" dataset="$tmp/blobs" ipc=1 init=real
[ -s "$tmp/synset.safetensors" ] || fail "the pipeline wrote no synthetic set"

echo "== a C program built with pkg-config ncfm-1.0"
# the .pc names the real prefix: a copy names the DESTDIR tree instead, as if installed
# there (PKG_CONFIG_SYSROOT_DIR would move glib's paths too)
grep -qx "prefix=$prefix" "$lib/pkgconfig/ncfm-1.0.pc" || fail "ncfm-1.0.pc: prefix is not $prefix"
mkdir "$tmp/pkgconfig"
sed "s|^prefix=.*|prefix=$dest$prefix|" "$lib/pkgconfig/ncfm-1.0.pc" > "$tmp/pkgconfig/ncfm-1.0.pc"
flags=$(PKG_CONFIG_PATH=$tmp/pkgconfig pkg-config --cflags --libs ncfm-1.0)
echo "cc $flags"
# shellcheck disable=SC2086
${CC:-cc} -std=c11 -Wall -Wextra -Werror -o "$tmp/consumer" "$consumer_c" $flags
LD_LIBRARY_PATH=$lib "$tmp/consumer"

echo "== from gi.repository import Ncfm"
# the override from the install tree: the site directory on PYTHONPATH, as for any prefix
# that is not python's own
GI_TYPELIB_PATH=$lib/girepository-1.0 LD_LIBRARY_PATH=$lib PYTHONPATH=${python_dir:+$dest$python_dir} \
  /usr/bin/python3 - "$lib" "${python_dir:+$override}" <<'PY'
import sys
import gi
gi.require_version('Ncfm', '1.0')
from gi.repository import Ncfm
lib, override = sys.argv[1:3]
dev = Ncfm.Device.new('cpu')
t = Ncfm.Tensor.new(dev, Ncfm.DType.F32, [2, 3])
assert t.get_numel() == 6, t.get_numel()
loaded = [l.split()[-1] for l in open('/proc/self/maps') if 'libncfm-1.0.so' in l]
assert loaded and all(p.startswith(lib + '/') for p in loaded), loaded
print('python: Ncfm from', loaded[0], ':', t.describe())
if override:
    import os
    import numpy as np
    import gi.overrides.Ncfm
    found = gi.overrides.Ncfm.__file__
    assert os.path.realpath(found) == os.path.realpath(override), found
    a = np.arange(6, dtype=np.int32).reshape(2, 3)
    assert (Ncfm.Tensor.new_from_numpy(dev, a).to_numpy() == a).all()
    print('python: override from', override)
PY

synset_tool=$dest$bindir/ncfm-synset
if [ -x "$synset_tool" ]; then
  echo "== ncfm-synset --help"
  "$synset_tool" --help > "$tmp/synset-help.txt" || fail "ncfm-synset --help failed"
  head -n 3 "$tmp/synset-help.txt"
else
  echo "== ncfm-synset is not installed by this build: not checked"
fi
echo "ok"
