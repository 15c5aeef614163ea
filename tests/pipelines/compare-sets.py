#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Compares the stored images of two synthetic sets (safetensors, F32):
   compare-sets.py A B TOL [--differ]
prints max|A - B| / max|B| and the steps; exits 0 when it is <= TOL and both
sets are at the same step (with --differ: when it is > TOL), 1 otherwise.
Standard library only (the CI image has no numpy for every Python)."""
import json
import struct
import sys


def load(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    info = header['images']
    if info['dtype'] != 'F32':
        sys.exit(f'{path}: images are {info["dtype"]}, expected F32')
    start, end = info['data_offsets']
    values = struct.unpack(f'<{(end - start) // 4}f', data[start:end])
    return values, header.get('__metadata__', {}).get('ncfm.step')


def main():
    a, step_a = load(sys.argv[1])
    b, step_b = load(sys.argv[2])
    tol = float(sys.argv[3])
    differ = '--differ' in sys.argv[4:]
    if len(a) != len(b):
        print(f'FAIL: {len(a)} and {len(b)} values')
        return 1
    scale = max(abs(x) for x in b) or 1.0
    rel = max(abs(x - y) for x, y in zip(a, b)) / scale
    print(f'max relative difference {rel:.3g} (tolerance {tol:g}), steps {step_a} and {step_b}')
    if step_a != step_b:
        print('FAIL: the sets are at different steps')
        return 1
    return 0 if (rel > tol) == differ else 1


if __name__ == '__main__':
    sys.exit(main())
