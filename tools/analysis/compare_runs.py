"""A markdown table of final metrics across runs, with mean and spread over seeds.

    python tools/analysis/compare_runs.py --run student=work_dirs/s_seed0,work_dirs/s_seed1 \
        --run nkd=work_dirs/nkd_seed0,work_dirs/nkd_seed1 [--metrics accuracy/top1] \
        [--column params 0.18M 0.18M] [--precision 2] \
        [--update-readme configs/nkd/README.md --section fashionmnist]

Each ``--run NAME=DIR[,DIR...]`` is one row; its DIRs are the seeds of that setting. Cells are
``mean ± std`` (sample standard deviation over seeds; just the value for a single seed).
A DIR written ``DIR@STEP`` gives the validation logged at that step (epoch, or iteration of an
iteration-based run) instead of the last one, so one table can show a run part-way and at its
end (e.g. whether a baseline had converged).
``--column HEADER VALUE...`` adds a context column (one value per ``--run``, in order) between
the run name and the seed count, e.g. params or schedule.

With ``--update-readme FILE --section NAME`` the table also replaces whatever lies between the
lines ``<!-- compare_runs:NAME -->`` and ``<!-- /compare_runs:NAME -->`` of FILE; the rest of the
file is kept byte for byte. This is how the method READMEs under configs/ are regenerated, so
their measured numbers are never typed by hand.
"""
import argparse
import re
import statistics
from pathlib import Path

from mmext.utils.logs import final_metrics


def parse_run(text: str):
    # split at the last "=": a row name may hold one ("T=1"), work dir paths do not
    name, sep, dirs = text.rpartition('=')
    if not sep or not name or not dirs:
        raise argparse.ArgumentTypeError(f'--run expects NAME=DIR[,DIR...], got "{text}"')
    return name, dirs.split(',')


def run_metrics(spec: str):
    """Metrics of one seed: ``DIR`` (its last validation) or ``DIR@STEP``."""
    work_dir, sep, step = spec.rpartition('@')
    if not sep:
        return final_metrics(spec)
    if not step.isdigit():
        raise ValueError(f'"{spec}": the step after "@" must be an integer')
    return final_metrics(work_dir, int(step))


def summarise(runs, metrics=None):
    """[(name, seeds, {metric: (mean, std)})] over each run's seeds."""
    rows = []
    for name, dirs in runs:
        finals = [run_metrics(d) for d in dirs]
        keys = metrics or sorted(set.intersection(*(set(f) for f in finals)))
        cells = {}
        for key in keys:
            values = [f[key] for f in finals if key in f]
            if len(values) != len(finals):
                raise KeyError(f'metric "{key}" is missing from some runs of "{name}"')
            std = statistics.stdev(values) if len(values) > 1 else 0.0
            cells[key] = (statistics.fmean(values), std)
        rows.append((name, len(dirs), cells))
    return rows


def to_markdown(rows, columns=(), precision: int = 2) -> str:
    """The table; ``columns`` is [(header, [one value per row])] (checked by ``main``), shown
    after the run name.

    Metrics keep the order they were asked for (``--metrics``), otherwise the sorted order.
    """
    keys = list(dict.fromkeys(k for _, _, cells in rows for k in cells))
    headers = ['run'] + [header for header, _ in columns] + ['seeds'] + keys
    lines = ['| ' + ' | '.join(headers) + ' |', '|' + ' --- |' * len(headers)]
    for i, (name, seeds, cells) in enumerate(rows):
        values = [(f'{cells[k][0]:.{precision}f} ± {cells[k][1]:.{precision}f}' if seeds > 1
                   else f'{cells[k][0]:.{precision}f}') if k in cells else '-' for k in keys]
        extra = [str(col[i]) for _, col in columns]
        lines.append('| ' + ' | '.join([name] + extra + [str(seeds)] + values) + ' |')
    return '\n'.join(lines)


def markers(section: str):
    """The opening and closing marker lines of a generated block."""
    return f'<!-- compare_runs:{section} -->', f'<!-- /compare_runs:{section} -->'


def replace_block(text: str, section: str, table: str) -> str:
    """``text`` with the block of ``section`` holding ``table``; everything else unchanged."""
    begin, end = markers(section)
    starts = [m.end() for m in re.finditer(re.escape(begin), text)]
    stops = [m.start() for m in re.finditer(re.escape(end), text)]
    if len(starts) != 1 or len(stops) != 1:
        raise ValueError(f'section "{section}" needs exactly one "{begin}" and one "{end}" line; '
                         f'found {len(starts)} and {len(stops)}')
    if stops[0] < starts[0]:
        raise ValueError(f'"{end}" comes before "{begin}"')
    # the table sits on its own lines between the markers
    return text[:starts[0]] + '\n' + table + '\n' + text[stops[0]:]


def update_readme(path: str, section: str, table: str) -> bool:
    """Rewrite the block of ``section`` in the file ``path``; True when the file changed."""
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f'--update-readme: no file "{path}"')
    # bytes in, bytes out: no newline translation of the untouched parts
    old = file.read_bytes().decode('utf-8')
    try:
        new = replace_block(old, section, table)
    except ValueError as err:
        raise ValueError(f'{path}: {err}') from None
    if new != old:
        file.write_bytes(new.encode('utf-8'))
    return new != old


def main(argv=None):
    parser = argparse.ArgumentParser(description='Compare final metrics of runs')
    parser.add_argument('--run', type=parse_run, action='append', required=True,
                        help='NAME=DIR[,DIR...]: one row, one DIR per seed; DIR@STEP: the validation '
                        'at that step')
    parser.add_argument('--metrics', nargs='+', help='metrics to show (default: all shared)')
    parser.add_argument('--column', nargs='+', action='append', default=[],
                        metavar=('HEADER', 'VALUE'),
                        help='context column: a header then one value per --run, in order')
    parser.add_argument('--precision', type=int, default=2, help='decimals of the cells')
    parser.add_argument('--update-readme', metavar='FILE',
                        help='also write the table into the --section block of FILE')
    parser.add_argument('--section', help='name of the block in --update-readme')
    args = parser.parse_args(argv)
    if bool(args.update_readme) != bool(args.section):
        parser.error('--update-readme and --section go together')
    columns = []
    for column in args.column:
        if len(column) - 1 != len(args.run):
            parser.error(f'--column {column[0]} has {len(column) - 1} values for '
                         f'{len(args.run)} --run')
        columns.append((column[0], column[1:]))
    table = to_markdown(summarise(args.run, args.metrics), columns, args.precision)
    print(table)
    if args.update_readme:
        changed = update_readme(args.update_readme, args.section, table)
        print(f'{args.update_readme} [{args.section}]: {"updated" if changed else "unchanged"}')
    return table


if __name__ == '__main__':
    main()
