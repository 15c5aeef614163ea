#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The docs run as written.  Every fenced block of the given markdown files has a marker
on the line before it (an HTML comment, invisible when rendered):

  <!-- doc-test: run -->                          run it (sh: bash, python: python3)
  <!-- doc-test: run; substitute A -> B; ... -->  run it with A replaced by B: only smaller
                                                  numbers, or budget properties appended
                                                  (max-images=N, num-buffers=N)
  <!-- doc-test: hardware (why) -->               needs a camera, a GPU, ...: not run
  <!-- doc-test: long (why) -->                   minutes or more (the demo, a full build)
  <!-- doc-test: download (why) -->               needs data the checkout does not have
  <!-- doc-test: text (why) -->                   not a command: a diagram, output, synopsis

An unmarked block, a reason missing, or a substitution that does not apply or grows a
budget is an error, so new docs cannot rot unseen.

  doc_blocks.py check SRC_ROOT FILE...            the markers only
  doc_blocks.py run SRC_ROOT BUILD_ROOT FILE...   the markers, then every run block
(FILEs relative to SRC_ROOT; none: README.md and docs/*.md but docs/elements.md, which
tests/elements/elements_doc.py generates from gst-inspect-1.0 and the elements-doc test
keeps in step)

`run` executes each file's run blocks in order in one bash session (variables and files
carry over from block to block, as for a reader pasting them), in a temporary directory
that looks like the checkout: build/ and build-release/ are BUILD_ROOT, pipelines/ and
tests/ are SRC_ROOT's; GST_PLUGIN_PATH is build/plugins/elements (pipelines.md sets it
once for every page).  Python blocks get GI_TYPELIB_PATH and LD_LIBRARY_PATH at
build/plugins/libncfm and PYTHONPATH at plugins/libncfm/python (the override
module), as the README says.  Exit status 1 names the file and line."""
import os
import re
import shlex
import subprocess
import sys
import tempfile

MARKER = re.compile(r'^\s*<!--\s*doc-test:\s*(.*?)\s*-->\s*$')
FENCE = re.compile(r'^(\s*)(```|~~~)\s*([\w-]*)\s*$')
NOT_RUN = ('hardware', 'long', 'download', 'text')
BUDGET_PROPS = re.compile(r'^(max-images|num-buffers)=\d+$')
GENERATED = 'elements.md'
NUMBER = re.compile(r'\d+(?:\.\d+)?')


class DocError(Exception):
    pass


class Block:
    def __init__(self, path, line, lang, text, marker):
        self.path, self.line, self.lang, self.text, self.marker = path, line, lang, text, marker
        self.kind, self.substitutions = parse_marker(self)

    def where(self):
        return f'{self.path}:{self.line}'

    def runnable_text(self):
        text = self.text
        for a, b in self.substitutions:
            text = text.replace(a, b)
        return text


def shrinks(a, b):
    """True if b is a with numbers no larger, and perhaps budget properties appended."""
    ta, tb = a.split(), b.split()
    if len(tb) < len(ta) or not all(BUDGET_PROPS.match(t) for t in tb[len(ta):]):
        return False
    for x, y in zip(ta, tb):
        if NUMBER.sub('#', x) != NUMBER.sub('#', y):
            return False
        if any(float(ny) > float(nx) for nx, ny in zip(NUMBER.findall(x), NUMBER.findall(y))):
            return False
    return True


def parse_marker(block):
    if block.marker is None:
        raise DocError(f'{block.where()}: a fenced block without a "<!-- doc-test: ... -->" '
                       f'marker on the line before it (see tests/docs/doc_blocks.py)')
    kind = (block.marker.split() or [''])[0]
    if kind in NOT_RUN:
        head = block.marker   # the reason may hold ";"
        if not re.fullmatch(r'\w+\s+\(.+\)', head):
            raise DocError(f'{block.where()}: "{head}" needs a reason: "{kind} (why)"')
        return kind, []
    parts = [p.strip() for p in block.marker.split(';')]
    head = parts[0]
    if head != 'run':
        raise DocError(f'{block.where()}: unknown doc-test marker "{head}" '
                       f'(run, {", ".join(NOT_RUN)})')
    if block.lang not in ('sh', 'python', ''):
        raise DocError(f'{block.where()}: cannot run a "{block.lang}" block')
    subs = []
    for p in parts[1:]:
        m = re.fullmatch(r'substitute\s+(.+?)\s+->\s+(.+)', p)
        if not m:
            raise DocError(f'{block.where()}: "{p}" is not "substitute A -> B"')
        a, b = m.groups()
        if a not in block.text:
            raise DocError(f'{block.where()}: substitute "{a}": not in the block')
        if not shrinks(a, b):
            raise DocError(f'{block.where()}: substitute "{a}" -> "{b}" does not only shrink '
                           f'a budget (smaller numbers, or max-images/num-buffers appended)')
        subs.append((a, b))
    return 'run', subs


def parse_file(src, path):
    """The blocks of a file; a DocError naming every badly marked one."""
    blocks, errors, marker, fence, body, start = [], [], None, None, [], 0
    with open(os.path.join(src, path), encoding='utf-8') as f:
        lines = f.read().split('\n')
    for n, line in enumerate(lines, 1):
        if fence is None:
            m = FENCE.match(line)
            if m:
                fence, indent, lang, body, start = m.group(2), m.group(1), m.group(3), [], n
                continue
            mm = MARKER.match(line)
            if mm:
                marker = mm.group(1)
            elif line.strip():
                marker = None
        elif line.strip() == fence:
            text = '\n'.join(b[len(indent):] if b.startswith(indent) else b for b in body)
            try:
                blocks.append(Block(path, start, lang, text + '\n', marker))
            except DocError as e:
                errors.append(str(e))
            fence, marker = None, None
        else:
            body.append(line)
    if fence is not None:
        errors.append(f'{path}:{start}: the fenced block is not closed')
    if errors:
        raise DocError('\nFAIL: '.join(errors))
    return blocks


def script_for(blocks, workdir):
    """One bash script running the run blocks in order; python blocks through files."""
    out = ['set -euo pipefail']
    for i, b in enumerate(blocks):
        out.append(f'echo {shlex.quote("== " + b.where())}')
        text = b.runnable_text()
        if b.lang == 'python':
            py = os.path.join(workdir, f'.block-{i}.py')
            with open(py, 'w', encoding='utf-8') as f:
                f.write(text)
            out.append('GI_TYPELIB_PATH=$PWD/build/plugins/libncfm '
                       'LD_LIBRARY_PATH=$PWD/build/plugins/libncfm${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} '
                       'PYTHONPATH=$PWD/plugins/libncfm/python '
                       f'/usr/bin/python3 {shlex.quote(py)}')
        else:
            out.append(text)
    return '\n'.join(out) + '\n'


def run_file(path, blocks, src, build):
    with tempfile.TemporaryDirectory(prefix='ncfm-docs-') as work:
        for name, target in (('build', build), ('build-release', build),
                             ('pipelines', os.path.join(src, 'pipelines')),
                             ('plugins', os.path.join(src, 'plugins')),
                             ('tests', os.path.join(src, 'tests'))):
            os.symlink(target, os.path.join(work, name))
        # GST_PLUGIN_PATH as pipelines.md sets it once for every page
        env = dict(os.environ, NCFM_DEVICE='cpu',
                   GST_PLUGIN_PATH=os.path.join(work, 'build', 'plugins', 'elements'),
                   GST_REGISTRY_1_0=os.path.join(work, 'registry.bin'))
        for var in ('GST_PLUGIN_PATH_1_0', 'GI_TYPELIB_PATH'):
            env.pop(var, None)
        sys.stdout.flush()
        r = subprocess.run(['bash', '-c', script_for(blocks, work)], cwd=work, env=env,
                           stdout=sys.stdout, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            raise DocError(f'{path}: a run block failed (exit {r.returncode}; the last "==" line '
                           f'above names it)')


def main(argv):
    if len(argv) < 3 or argv[1] not in ('check', 'run') or (argv[1] == 'run' and len(argv) < 4):
        print(__doc__.split('\n\n')[2], file=sys.stderr)
        return 2
    src = os.path.abspath(argv[2])
    files = argv[3:] if argv[1] == 'check' else argv[4:]
    if not files:
        files = ['README.md'] + sorted(
            os.path.join('docs', f) for f in os.listdir(os.path.join(src, 'docs'))
            if f.endswith('.md') and f != GENERATED)
    parsed, errors = [], []
    for f in files:
        try:
            parsed.append((f, parse_file(src, f)))
        except DocError as e:
            errors.append(str(e))
    if errors:
        print('FAIL: ' + '\nFAIL: '.join(errors), file=sys.stderr)
        return 1
    try:
        for f, blocks in parsed:
            kinds = [b.kind for b in blocks]
            print(f'{f}: {len(blocks)} blocks, ' +
                  ', '.join(f'{kinds.count(k)} {k}' for k in ('run',) + NOT_RUN if k in kinds))
        if argv[1] == 'run':
            for f, blocks in parsed:
                runs = [b for b in blocks if b.kind == 'run']
                if runs:
                    run_file(f, runs, src, os.path.abspath(argv[3]))
    except DocError as e:
        print(f'FAIL: {e}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
