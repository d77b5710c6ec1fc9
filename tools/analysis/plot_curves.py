"""Learning curves of one or several runs in one PNG.

    python tools/analysis/plot_curves.py WORK_DIR [WORK_DIR ...] [--labels A B ...]
        [--keys loss accuracy/top1 ...] [--dpi 80] --out curves.png

Every key gets its own panel (training keys against iterations, validation metrics against the
validation step, i.e. epoch or iteration); each run is one labelled line.
"""
import argparse
import os.path as osp

import matplotlib

matplotlib.use('Agg')  # headless: no display on servers and CI
import matplotlib.pyplot as plt  # noqa: E402

from mmext.utils.logs import BOOKKEEPING, load_scalars  # noqa: E402


def collect(work_dirs, keys=None):
    """{key: {run label: (xs, ys)}} for the requested keys (default: every logged quantity)."""
    curves = {}
    for label, work_dir in work_dirs:
        train, val = load_scalars(work_dir)
        for records in (train, val):
            for record in records:
                for key, value in record.items():
                    if key in BOOKKEEPING or (keys and key not in keys):
                        continue
                    xs, ys = curves.setdefault(key, {}).setdefault(label, ([], []))
                    xs.append(record['step'])
                    ys.append(value)
    if keys:
        missing = [k for k in keys if k not in curves]
        if missing:
            raise KeyError(f'keys {missing} are in none of the runs; logged keys: '
                           f'{sorted(curves) or "none"}')
    return curves


def plot(curves, out: str, title: str = '', dpi: int = 100) -> str:
    cols = min(3, len(curves))
    rows = (len(curves) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.6 * rows), squeeze=False)
    for ax, (key, runs) in zip(axes.flat, sorted(curves.items())):
        for label, (xs, ys) in runs.items():
            ax.plot(xs, ys, marker='o' if len(xs) < 20 else None, markersize=3, label=label)
        ax.set_title(key)
        ax.set_xlabel('step')
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(curves):]:
        ax.axis('off')
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description='Plot learning curves of mmengine runs')
    parser.add_argument('work_dirs', nargs='+', help='work dirs written by tools/train.py')
    parser.add_argument('--labels', nargs='+', help='one label per work dir (default: folder name)')
    parser.add_argument('--keys', nargs='+', help='keys to plot (default: all)')
    parser.add_argument('--title', default='', help='figure title')
    parser.add_argument('--out', default='curves.png', help='output PNG path')
    parser.add_argument('--dpi', type=int, default=100,
                        help='resolution; ~80 keeps a README figure under ~150 KB')
    args = parser.parse_args(argv)
    labels = args.labels or [osp.basename(osp.normpath(d)) for d in args.work_dirs]
    if len(labels) != len(args.work_dirs):
        parser.error(f'--labels has {len(labels)} names for {len(args.work_dirs)} work dirs')
    out = plot(collect(list(zip(labels, args.work_dirs)), args.keys), args.out, args.title,
               args.dpi)
    print(f'wrote {out}')
    return out


if __name__ == '__main__':
    main()
