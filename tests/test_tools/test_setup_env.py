"""tools/setup_env.sh gives every checkout its own .venv (on top of the shared pinned stack), so
two clones on one machine each import their own mmext."""
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = Path((REPO / '.venv' / '.base').read_text().strip()) if (
    REPO / '.venv' / '.base').exists() else None

pytestmark = pytest.mark.skipif(
    SHARED is None or not (REPO / '.git').exists(),
    reason='needs a git checkout set up by tools/setup_env.sh')


def clone(dest: Path) -> Path:
    subprocess.run(['git', 'clone', '-q', str(REPO), str(dest)], check=True)
    # the working tree's script, not the last commit's
    shutil.copy(REPO / 'tools' / 'setup_env.sh', dest / 'tools' / 'setup_env.sh')
    return dest


def imported_mmext(checkout: Path, cwd: Path) -> Path:
    out = subprocess.run(
        [str(checkout / '.venv' / 'bin' / 'python'), '-c',
         'import mmext; print(mmext.__path__[0])'],
        cwd=cwd, check=True, capture_output=True, text=True).stdout
    return Path(out.strip())


def test_each_checkout_imports_its_own_mmext(tmp_path):
    other = clone(tmp_path / 'other')
    # the layout of earlier versions: .venv a link to the shared stack
    (other / '.venv').symlink_to(SHARED)
    subprocess.run(['bash', 'tools/setup_env.sh'], cwd=other, check=True, capture_output=True)

    venv = other / '.venv'
    assert venv.is_dir() and not venv.is_symlink()
    assert (venv / 'bin' / 'ninja').exists()  # the C++ ops' builds need it
    # from a neutral folder (no checkout on sys.path through the working directory)
    assert imported_mmext(other, tmp_path) == other / 'mmext'
    assert imported_mmext(REPO, tmp_path) == REPO / 'mmext'
    # the shared stack is seen, not copied
    torch_dir = subprocess.run(
        [str(venv / 'bin' / 'python'), '-c', 'import torch; print(torch.__file__)'],
        cwd=tmp_path, check=True, capture_output=True, text=True).stdout
    assert torch_dir.startswith(str(SHARED))
