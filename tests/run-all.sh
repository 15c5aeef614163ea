#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The README's second command: installs what is missing, builds, runs every
# test (meson test), then builds again with AddressSanitizer + UBSan and runs
# the CPU tests there.  Ends with one line `N passed, N failed, N skipped`.
set -euo pipefail
source "$(dirname "$0")/../pipelines/setup.sh"
cd "$ncfm_root"

status=0
# -Dwerror: the build must stay free of -Wall -Wextra warnings, CUDA included
ncfm_build_dir "$ncfm_build" --buildtype=debugoptimized -Dwerror=true
meson test -C "$ncfm_build" --print-errorlogs --num-processes 2 || status=1

asan=${NCFM_ASAN_BUILD_DIR:-$ncfm_root/build-asan}
# CUDA's runtime and ASan do not mix (and CUDA code is checked by parity tests)
ncfm_build_dir "$asan" --buildtype=debug -Db_sanitize=address,undefined -Dcuda=disabled \
  -Db_lundef=false
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 LSAN_OPTIONS=suppressions=$ncfm_root/tests/lsan.supp \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  meson test -C "$asan" --suite kernels --suite libncfm --suite elements --print-errorlogs \
  --num-processes 2 \
  --timeout-multiplier 4 || status=1

/usr/bin/python3 - "$ncfm_build/meson-logs/testlog.json" "$asan/meson-logs/testlog.json" <<'PY'
import json, sys
passed = failed = skipped = 0
for path in sys.argv[1:]:
    for line in open(path):
        r = json.loads(line)['result']
        if r in ('OK', 'EXPECTEDFAIL'):
            passed += 1
        elif r == 'SKIP':
            skipped += 1
        else:
            failed += 1
print(f'{passed} passed, {failed} failed, {skipped} skipped')
PY
exit $status
