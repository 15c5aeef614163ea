# SPDX-License-Identifier: LGPL-2.1-or-later
"""The tests' TAP runner: @test registers a function, main() runs them all."""
TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def main():
    print(f'1..{len(TESTS)}')
    failed = 0
    for i, fn in enumerate(TESTS, 1):
        try:
            fn()
            print(f'ok {i} {fn.__name__}')
        except Exception as e:  # noqa: BLE001 - report any failure as TAP
            failed += 1
            print(f'not ok {i} {fn.__name__}: {type(e).__name__}: {e}')
    return 1 if failed else 0
