"""Keep the logs of training runs in the repository, so that README tables stay regenerable.

    python tools/analysis/archive_runs.py configs/coke/runs work_dirs/coke_seed0 work_dirs/coke_s1

Work dirs hold checkpoints and are not committed; a fresh machine has none, so a table generated
by ``compare_runs.py`` from them could not be rebuilt or extended by a later seed. This copies
from each WORK_DIR to DEST/<WORK_DIR's name>/, in mmengine's layout, what the analysis tools read
(``<timestamp>/vis_data/scalars.json`` and ``tools/test.py``'s ``<timestamp>/<timestamp>.json``,
found by :mod:`mmext.utils.logs`) plus the run's dumped ``config.py``, the record of its seed and
overrides; no checkpoint. ``compare_runs.py``, ``plot_curves.py`` and ``update_readmes.py`` then
read DEST/<name> exactly as they read the work dir.
"""
import argparse
import shutil
from pathlib import Path

from mmext.utils.logs import scalar_files, test_result_files


def run_logs(work_dir: Path):
    """The logs the analysis tools read and the runs' dumped configs, relative to ``work_dir``."""
    logs = scalar_files(work_dir) + test_result_files(work_dir)
    if not logs:
        raise FileNotFoundError(f'"{work_dir}" holds no */vis_data/scalars.json nor test results: '
                                'is it a work dir written by tools/train.py or tools/test.py?')
    configs = list(work_dir.glob('*/vis_data/config.py'))
    return sorted(p.relative_to(work_dir) for p in logs + configs)


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
