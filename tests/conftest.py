import os
import socket
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True, scope='session')
def _run_from_repo_root():
    """Configs name data and base files relative to the repository root, as the tools do."""
    os.chdir(REPO_ROOT)
    yield


@pytest.fixture(autouse=True)
def _fresh_process_state():
    """Start every test without a default scope or visualizer, as a fresh process does.

    ``init_default_scope`` (called by Runners and by tests) leaves a process-wide current scope
    behind; without this reset, a test building through mmpretrain's registry would look names up
    in whichever host an earlier test switched to. Tests that need a scope set it themselves.
    mmdet/mmseg configs name their visualizer 'visualizer', so a Runner would reuse an earlier
    test's instance and write its logs into that test's folder.
    """
    from mmengine.registry import DefaultScope
    from mmengine.visualization import Visualizer
    DefaultScope._instance_dict.clear()
    stack = [Visualizer]  # each subclass keeps its own instances too
    while stack:
        cls = stack.pop()
        cls._instance_dict.clear()
        stack += cls.__subclasses__()
    yield


@pytest.fixture
def free_port() -> str:
    """A TCP port nothing listens on now, for a process group's rendezvous (a fixed port would
    clash with another run on the same machine)."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return str(sock.getsockname()[1])


def _prepared(name: str) -> Path:
    path = REPO_ROOT / 'data' / name
    if not path.is_dir():
        pytest.skip(f'data/{name} missing: run `bash tools/prepare_data.sh`')
    return path


@pytest.fixture
def fashion_mnist_root() -> Path:
    """data/fashion_mnist, prepared by tools/prepare_data.sh (the README's test command)."""
    return _prepared('fashion_mnist')


@pytest.fixture
def nuclei_root() -> Path:
    """data/nuclei, prepared by tools/prepare_data.sh (the README's test command)."""
    return _prepared('nuclei')


def _load_tool(relpath: str):
    """Import a script under tools/ by path (tools/test.py would clash with the stdlib `test`)."""
    import importlib.util
    path = REPO_ROOT / 'tools' / relpath
    name = 'mmext_tools_' + relpath.replace('/', '_')[:-len('.py')]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='session')
def load_tool():
    """``load_tool('analysis/get_flops.py')`` -> the script imported as a module."""
    return _load_tool


def _write_idx_subset(src: Path, dst: Path, count: int) -> None:
    """Copy the first ``count`` records of an IDX file (images or labels), fixing its header."""
    import struct
    raw = src.read_bytes()
    ndim = raw[3]
    dims = list(struct.unpack(f'>{ndim}I', raw[4:4 + 4 * ndim]))
    record = 1
    for d in dims[1:]:
        record *= d
    dims[0] = count
    header = raw[:4] + struct.pack(f'>{ndim}I', *dims)
    body_start = 4 + 4 * ndim
    dst.write_bytes(header + raw[body_start:body_start + count * record])


@pytest.fixture(scope='session')
def tiny_fashion_mnist(tmp_path_factory) -> Path:
    """The first 256 train / 128 test images of the real Fashion-MNIST, in mmpretrain's layout.

    Loading the full set costs seconds per dataset build; tests that only need a few real samples
    point ``data_root`` here.
    """
    src = _prepared('fashion_mnist')
    dst = tmp_path_factory.mktemp('fashion_mnist_tiny')
    for prefix, count in (('train', 256), ('t10k', 128)):
        for kind in ('images-idx3', 'labels-idx1'):
            name = f'{prefix}-{kind}-ubyte'
            _write_idx_subset(src / name, dst / name, count)
    return dst
