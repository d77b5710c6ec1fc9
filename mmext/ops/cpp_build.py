# Copyright (c) mmext contributors. All rights reserved.
"""Loading of the kernels in this folder: C++ CPU kernels (one ``.cpp`` per op) built on first
use, Triton kernels (one ``*_triton.py`` per op) imported only where Triton is installed."""
import functools
import hashlib
import importlib
import logging
import os
import platform
import shutil
import sys
import warnings
from pathlib import Path
from types import ModuleType
from typing import Callable, Optional

__all__ = ['load_cpu_kernel', 'triton_op']


def _cpu_tag() -> str:
    """Short hash of the CPU's features: the kernels are built with -march=native, so a build
    cache shared by different CPUs must not hand one CPU's binary to another."""
    try:
        info = Path('/proc/cpuinfo').read_text().splitlines()
    except OSError:
        info = []
    flags = next((line for line in info if line.startswith(('flags', 'Features'))), '')
    return hashlib.sha1(f'{platform.machine()} {flags}'.encode()).hexdigest()[:8]


def load_cpu_kernel(source: str, fallback: str) -> Optional[ModuleType]:
    """Compile (once per machine and source, cached by torch in ``TORCH_EXTENSIONS_DIR``) and
    load ``mmext/ops/<source>``; None, with a warning, when no C++ toolchain is available.

    Callers cache the result (``functools.lru_cache``) so the build is tried once per process.

    Args:
        source (str): File name of the ``.cpp`` beside this module.
        fallback (str): What happens instead, for the warning (e.g. "k-NN attention falls back
            to torch.topk").

    Returns:
        ModuleType | None: The compiled extension module.
    """
    path = Path(__file__).with_name(source)
    # torch runs `ninja` from PATH; a venv used without activation has it beside the interpreter
    venv_ninja = Path(sys.executable).with_name('ninja')
    if shutil.which('ninja') is None and venv_ninja.exists():
        os.environ['PATH'] = os.pathsep.join([str(venv_ninja.parent), os.environ.get('PATH', '')])
    # importing cpp_extension without CUDA logs a CUDA_HOME warning that does not apply here;
    # the user's logging level is restored afterwards
    logger = logging.getLogger('torch.utils.cpp_extension')
    level = logger.level
    logger.setLevel(logging.ERROR)
    # -fno-trapping-math: without it GCC keeps branches around comparisons and float -> int
    # conversions (to preserve FP exception flags nobody reads) and does not vectorise the loops.
    # -fopenmp: at::parallel_for is inlined from ATen's headers and runs serially unless
    # _OPENMP is defined. Compile flag only: the OpenMP symbols then resolve to the libgomp that
    # libtorch_cpu already loaded, so the kernels share torch's thread pool.
    flags = ['-O3', '-march=native', '-fno-trapping-math', '-fopenmp']
    # a hash of the source, the shared headers and the flags in the name: editing any of them
    # rebuilds (torch's own check only looks at the sources)
    code = b''.join(p.read_bytes() for p in [path, *sorted(path.parent.glob('*.h'))])
    digest = hashlib.sha1(code + ' '.join(flags).encode()).hexdigest()[:8]
    try:
        from torch.utils.cpp_extension import load
        return load(name=f'mmext_{path.stem}_{_cpu_tag()}_{digest}', sources=[str(path)],
                    extra_cflags=flags, verbose=False)
    except Exception as error:  # no compiler / ninja, read-only cache...: stay correct, slower
        warnings.warn(f'mmext: could not build the CPU kernel {source} ({error}); {fallback}.')
        return None
    finally:
        logger.setLevel(level)


@functools.lru_cache(maxsize=None)
def triton_op(module: str, name: str) -> Optional[Callable]:
    """``mmext.ops.<module>.<name>``, or None where Triton is not installed."""
    try:
        return getattr(importlib.import_module(f'{__package__}.{module}'), name)
    except ImportError:
        return None
