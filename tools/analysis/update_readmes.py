# Copyright (c) mmext contributors. All rights reserved.
"""Regenerate the measured tables of the method READMEs from the runs in work_dirs/.

    python tools/analysis/update_readmes.py [README ...] [--check]

Every README under configs/ shows, in a fenced shell block, the ``compare_runs.py ...
--update-readme README --section NAME`` command that generated each of its tables (after any
``VAR=value`` lines it uses). This tool runs those commands again, in the repository root, in
this process. A command whose work dirs are missing is reported and skipped. ``--check``
leaves the READMEs untouched and exits 1 if any table differs from what the runs give.
"""
import argparse
import contextlib
import io
import os
import re
import shlex
import sys
from pathlib import Path
from typing import List, Tuple

from mmext.utils import load_script

REPO = Path(__file__).resolve().parents[2]
_FENCE = re.compile(r'^```[a-z]*\n(.*?)^```', re.M | re.S)
_ASSIGNMENTS = re.compile(r'^([A-Za-z_]\w*=\S+\s*)+$')


def table_commands(readme: str) -> List[str]:
    """Shell snippets (variable assignments + one compare_runs command) found in ``readme``."""
    snippets = []
    for block in _FENCE.findall(readme):
        lines = block.replace('\\\n', ' ').splitlines()  # join continuation lines
        assignments = [line.strip() for line in lines if _ASSIGNMENTS.match(line.strip())]
        for line in lines:
            if 'compare_runs.py' in line and '--update-readme' in line:
                snippets.append('\n'.join(assignments + [line.strip()]))
    return snippets


def _compare_runs():
    """tools/analysis/compare_runs.py, imported (it is a script, not a package module)."""
    return load_script(str(Path(__file__).with_name('compare_runs.py')))


def run_snippet(snippet: str, readme: Path) -> Tuple[bool, str]:
    """Run one snippet's compare_runs command in this process; (ok, message)."""
    *assignments, command = snippet.splitlines()
    env = {}
    for line in assignments:
        for word in shlex.split(line):
            name, value = word.split('=', 1)
            env[name] = _expand(value, env)
    args = [_expand(word, env) for word in shlex.split(command)]
    script = next(i for i, word in enumerate(args) if word.endswith('compare_runs.py'))
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            _compare_runs().main(args[script + 1:])
    except (OSError, ValueError, KeyError) as error:
        return False, f'{readme}: skipped a table ({type(error).__name__}: {error})'
    return True, f'{readme}: updated'


def _expand(word: str, env: dict) -> str:
    """``$VAR`` / ``${VAR}`` from the snippet's own assignments."""
    return re.sub(r'\$\{?(\w+)\}?', lambda m: env.get(m.group(1), m.group(0)), word)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('readmes', nargs='*', type=Path,
                        help='READMEs to update (default: configs/*/README.md)')
    parser.add_argument('--check', action='store_true',
                        help='only report READMEs whose tables differ from the runs')
    args = parser.parse_args(argv)
    # README paths are relative to the repository root, like the commands inside them
    os.chdir(REPO)
    readmes = args.readmes or sorted(Path('configs').glob('*/README.md'))
    changed = []
    for readme in readmes:
        readme = Path(readme)
        before = readme.read_text()
        for snippet in table_commands(before):
            ok, message = run_snippet(snippet, readme)
            if not ok:
                print(message)
        if readme.read_text() != before:
            changed.append(readme)
            if args.check:
                readme.write_text(before)
    for path in changed:
        print(f'{path}: {"differs from the runs" if args.check else "tables regenerated"}')
    return 1 if args.check and changed else 0


if __name__ == '__main__':
    sys.exit(main())
