"""tools/dist_run.sh and tools/slurm_run.sh run the checkout's .venv interpreter unless PYTHON
names another one."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

RECORDER = '#!/usr/bin/env bash\necho "$0 $*" >> "$(dirname "$0")/../../calls.txt"\n'


@pytest.fixture
def checkout(tmp_path):
    """A copy of the launch scripts in a checkout whose .venv/bin/python records its calls."""
    (tmp_path / 'tools').mkdir()
    for script in ('dist_run.sh', 'dist_train.sh', 'slurm_run.sh', 'slurm_train.sh'):
        shutil.copy(REPO / 'tools' / script, tmp_path / 'tools' / script)
    bin_dir = tmp_path / '.venv' / 'bin'
    bin_dir.mkdir(parents=True)
    python = bin_dir / 'python'
    python.write_text(RECORDER)
    python.chmod(0o755)
    # srun stand-in: run the command it was given (from the first executable argument on)
    fake_srun = tmp_path / 'fakebin' / 'srun'
    fake_srun.parent.mkdir()
    fake_srun.write_text(
        '#!/usr/bin/env bash\nwhile [ $# -gt 0 ] && ! [ -x "$1" ]; do shift; done\n"$@"\n')
    fake_srun.chmod(0o755)
    return tmp_path


@pytest.mark.parametrize('args', [
    ['tools/dist_train.sh', 'cfg.py', '2'],
    ['tools/slurm_train.sh', 'partition', 'job', 'cfg.py', 'work_dir'],
])
def test_launchers_use_the_checkout_venv(checkout, args):
    env = {k: v for k, v in os.environ.items() if k != 'PYTHON'}
    env['PATH'] = f'{checkout / "fakebin"}:{env["PATH"]}'
    # run from another folder: the scripts find the venv from their own location
    subprocess.run(['bash', str(checkout / args[0]), *args[1:]], cwd='/', env=env, check=True,
                   capture_output=True, timeout=60)
    calls = (checkout / 'calls.txt').read_text()
    assert str(checkout / 'tools' / '..' / '.venv' / 'bin' / 'python') in calls
    assert 'cfg.py' in calls

    other = checkout / 'other_python'
    other.write_text(RECORDER.replace('$(dirname "$0")/../../calls.txt', f'{checkout}/other.txt'))
    other.chmod(0o755)
    subprocess.run(['bash', str(checkout / args[0]), *args[1:]], cwd='/',
                   env=dict(env, PYTHON=str(other)), check=True, capture_output=True, timeout=60)
    assert 'cfg.py' in (checkout / 'other.txt').read_text()
