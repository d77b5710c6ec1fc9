"""A markdown table of final metrics across runs, with mean and spread over seeds.

    python tools/analysis/compare_runs.py --run student=work_dirs/s_seed0,work_dirs/s_seed1 \
        --run nkd=work_dirs/nkd_seed0,work_dirs/nkd_seed1 [--metrics accuracy/top1]

Each ``--run NAME=DIR[,DIR...]`` is one row; its DIRs are the seeds of that setting. Cells are
``mean ± std`` (sample standard deviation over seeds; just the value for a single seed).
"""
import argparse
import statistics

from mmext.utils.logs import final_metrics


def parse_run(text: str):
    name, sep, dirs = text.partition('=')
    if not sep or not dirs:
        raise argparse.ArgumentTypeError(f'--run expects NAME=DIR[,DIR...], got "{text}"')
    return name, dirs.split(',')


def summarise(runs, metrics=None):
    """[(name, seeds, {metric: (mean, std)})] over each run's seeds."""
    rows = []
    for name, dirs in runs:
        finals = [final_metrics(d) for d in dirs]
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


def to_markdown(rows) -> str:
    keys = sorted({k for _, _, cells in rows for k in cells})
    lines = ['| run | seeds | ' + ' | '.join(keys) + ' |', '| --- | --- |' + ' --- |' * len(keys)]
    for name, seeds, cells in rows:
        values = [(f'{cells[k][0]:.2f} ± {cells[k][1]:.2f}' if seeds > 1 else f'{cells[k][0]:.2f}')
                  if k in cells else '-' for k in keys]
        lines.append(f'| {name} | {seeds} | ' + ' | '.join(values) + ' |')
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description='Compare final metrics of runs')
    parser.add_argument('--run', type=parse_run, action='append', required=True,
                        help='NAME=DIR[,DIR...]: one row, one DIR per seed')
    parser.add_argument('--metrics', nargs='+', help='metrics to show (default: all shared)')
    args = parser.parse_args(argv)
    table = to_markdown(summarise(args.run, args.metrics))
    print(table)
    return table


if __name__ == '__main__':
    main()
