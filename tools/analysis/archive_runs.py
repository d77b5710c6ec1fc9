"""Keep the logs of training runs in the repository, so that README tables stay regenerable.

    python tools/analysis/archive_runs.py configs/coke/runs work_dirs/coke_seed0 work_dirs/coke_seed1

Work dirs hold checkpoints and are not committed; a fresh machine has none, so a table generated
by ``compare_runs.py`` from them could not be rebuilt or extended by a later seed. This copies
what the analysis tools read, and nothing else, from each WORK_DIR to DEST/<WORK_DIR's name>/,
keeping mmengine's layout (``<timestamp>/vis_data/scalars.json``, the run's ``config.py`` and
``tools/test.py``'s ``<timestamp>/<timestamp>.json``). ``compare_runs.py``, ``plot_curves.py``
and ``update_readmes.py`` then read DEST/<name> exactly as they read the work dir.
"""
import argparse
import shutil
from pathlib import Path


def run_logs(work_dir: Path):
    """The files of ``work_dir`` that the analysis tools read, relative to it."""
    files = [p for p in work_dir.glob('*/vis_data/*') if p.name in ('scalars.json', 'config.py')]
    files += [p for p in work_dir.glob('*/*.json') if p.stem == p.parent.name]
    if not any(p.name == 'scalars.json' or p.suffix == '.json' for p in files):
        raise FileNotFoundError(f'"{work_dir}" holds no */vis_data/scalars.json nor test results: '
                                'is it a work dir written by tools/train.py or tools/test.py?')
    return sorted(p.relative_to(work_dir) for p in files)


def archive(dest: Path, work_dir: Path) -> Path:
    """Copy ``work_dir``'s logs to ``dest/<work_dir name>`` (replacing an older copy)."""
    logs = run_logs(work_dir)
    target = dest / work_dir.resolve().name
    if target.exists():
        shutil.rmtree(target)
    for rel in logs:
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(work_dir / rel, target / rel)
    return target


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('dest', type=Path, help='folder to keep the runs in, e.g. configs/X/runs')
    parser.add_argument('work_dirs', type=Path, nargs='+', help='work dirs of tools/train.py')
    args = parser.parse_args(argv)
    for work_dir in args.work_dirs:
        print(f'{work_dir} -> {archive(args.dest, work_dir)}')


if __name__ == '__main__':
    main()
