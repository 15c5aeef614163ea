#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""docs/elements.md from gst-inspect-1.0: the element reference, generated.

  elements_doc.py --write docs/elements.md   regenerate (GST_PLUGIN_PATH at the build)
  elements_doc.py --check docs/elements.md   exit 1 with a diff when it is out of date
"""
import argparse
import difflib
import os
import re
import subprocess
import sys

PLUGIN = "ncfm"
HEADER = """# Element reference

Generated from `gst-inspect-1.0` by `tests/elements/elements_doc.py`; do not edit by
hand. The test `elements-doc` fails when this file and the plugin disagree; regenerate
it from a build with

```
GST_PLUGIN_PATH=build/plugins/elements python3 tests/elements/elements_doc.py --write docs/elements.md
```

Caps: tensors travel as NNStreamer-style `other/tensors, format=static` (host memory)
or `other/tensors(memory:NcfmCUDA)` (device memory from the project's allocator); see
[architecture.md](architecture.md).

"""


def inspect(*args):
    env = dict(os.environ)
    env.setdefault("GST_REGISTRY_FORK", "no")
    out = subprocess.run(["gst-inspect-1.0", "--no-colors", *args], env=env,
                         capture_output=True, text=True, check=True).stdout
    return out


def element_names():
    names = []
    for line in inspect(PLUGIN).splitlines():
        m = re.match(r"^\s+(ncfm\w+): (.*)$", line)
        if m:
            names.append((m.group(1), m.group(2).strip()))
    if not names:
        sys.exit("no elements found in plugin %s (is GST_PLUGIN_PATH set to the build?)"
                 % PLUGIN)
    return sorted(names)


def element_section(name, long_name):
    lines = inspect(name).splitlines()
    keep, skip = [], False
    for line in lines:
        # the plugin block (paths, version) is the same for every element
        if line.startswith("Plugin Details:"):
            skip = True
            continue
        if skip:
            if line.strip() == "":
                skip = False
            continue
        keep.append(line.rstrip())
    while keep and keep[-1] == "":
        keep.pop()
    return "## %s\n\n%s\n\n```\n%s\n```\n" % (name, long_name, "\n".join(keep))


def render():
    parts = [HEADER]
    names = element_names()
    parts.append("Elements: " + ", ".join("[%s](#%s)" % (n, n) for n, _ in names) + "\n\n")
    parts += [element_section(n, d) + "\n" for n, d in names]
    return "".join(parts).rstrip() + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--write", metavar="FILE")
    g.add_argument("--check", metavar="FILE")
    a = ap.parse_args()
    text = render()
    if a.write:
        with open(a.write, "w") as f:
            f.write(text)
        return 0
    try:
        with open(a.check) as f:
            old = f.read()
    except OSError as e:
        print("cannot read %s: %s" % (a.check, e))
        return 1
    if old == text:
        print("%s is up to date" % a.check)
        return 0
    sys.stdout.writelines(difflib.unified_diff(old.splitlines(True), text.splitlines(True),
                                               a.check, "gst-inspect-1.0"))
    print("\n%s is out of date: regenerate it (see its header)" % a.check)
    return 1


if __name__ == "__main__":
    sys.exit(main())
