"""Reading the logs mmengine writes: training / validation scalars
(``<work_dir>/<timestamp>/vis_data/scalars.json``) and test results
(``<work_dir>/<timestamp>/<timestamp>.json``, written by ``tools/test.py``)."""
import json
from pathlib import Path
from typing import Dict, List, Optional, Tuple

# bookkeeping fields of a record, not quantities worth plotting or comparing
BOOKKEEPING = {'step', 'epoch', 'iter', 'time', 'data_time', 'memory'}


def scalar_files(work_dir: str) -> List[Path]:
    """``<timestamp>/vis_data/scalars.json`` of every run in ``work_dir``, oldest first."""
    return sorted(Path(work_dir).glob('*/vis_data/scalars.json'))


def test_result_files(work_dir: str) -> List[Path]:
    """``<timestamp>/<timestamp>.json`` written by ``tools/test.py``, oldest first."""
    return sorted(p for p in Path(work_dir).glob('*/*.json') if p.stem == p.parent.name)


def load_scalars(work_dir: str) -> Tuple[List[Dict], List[Dict]]:
    """(training records, validation records) of the newest run in ``work_dir``.

    mmengine writes one JSON record per logged step; training records carry ``lr``, validation
    records do not. A resumed run starts a new timestamped folder, so every folder is read in
    order and later records of the same step replace earlier ones.
    """
    files = scalar_files(work_dir)
    if not files:
        raise FileNotFoundError(f'no */vis_data/scalars.json under "{work_dir}": is it a work_dir '
                                'written by tools/train.py?')
    train, val = {}, {}
    for file in files:
        for line in file.read_text().splitlines():
            if line.strip():
                record = json.loads(line)
                (train if 'lr' in record else val)[record['step']] = record
    return [train[k] for k in sorted(train)], [val[k] for k in sorted(val)]


def final_metrics(work_dir: str, step: Optional[int] = None) -> Dict[str, float]:
    """The metrics of the last validation of a training run, or of the newest test of a
    ``tools/test.py`` work dir (one without scalar logs).

    ``step`` picks the validation logged at that step instead of the last one: the epoch of an
    epoch-based run, the iteration of an iteration-based one (``log_metric_by_epoch=False``).
    """
    tests = test_result_files(work_dir)
    if tests and not scalar_files(work_dir) and step is None:
        record = json.loads(tests[-1].read_text())
    else:
        _, val = load_scalars(work_dir)
        if not val:
            raise ValueError(f'"{work_dir}" has no validation record')
        if step is None:
            record = val[-1]
        else:
            matches = [r for r in val if r['step'] == step]
            if not matches:
                raise ValueError(f'"{work_dir}" has no validation at step {step}; it has '
                                 f'{[r["step"] for r in val]}')
            record = matches[0]
    return {k: v for k, v in record.items() if k not in BOOKKEEPING}
