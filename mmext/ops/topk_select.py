# Copyright (c) mmext contributors. All rights reserved.
"""Per-row top-k selection as an additive attention mask, with a compiled CPU kernel."""
import functools
import hashlib
import logging
import os
import platform
import shutil
import sys
import warnings
from pathlib import Path
from types import ModuleType
from typing import Optional

import torch
from torch import Tensor

__all__ = ['topk_mask']

_SOURCE = Path(__file__).with_name('topk_select.cpp')


def _cpu_tag() -> str:
    """Short hash of the CPU's features: the kernel is built with -march=native, so a build
    cache shared by different CPUs must not hand one CPU's binary to another."""
    try:
        info = Path('/proc/cpuinfo').read_text().splitlines()
    except OSError:
        info = []
    flags = next((line for line in info if line.startswith(('flags', 'Features'))), '')
    return hashlib.sha1(f'{platform.machine()} {flags}'.encode()).hexdigest()[:8]


@functools.lru_cache(maxsize=None)
def _load_kernel() -> Optional[ModuleType]:
    """Compile (once per machine, cached by torch in ``TORCH_EXTENSIONS_DIR``) and load the CPU
    kernel; None, with a warning, when no C++ toolchain is available."""
    # torch runs `ninja` from PATH; a venv used without activation has it beside the interpreter
    venv_ninja = Path(sys.executable).with_name('ninja')
    if shutil.which('ninja') is None and venv_ninja.exists():
        os.environ['PATH'] = os.pathsep.join([str(venv_ninja.parent), os.environ.get('PATH', '')])
    # importing cpp_extension without CUDA logs a CUDA_HOME warning that does not apply here;
    # the user's logging level is restored afterwards
    logger = logging.getLogger('torch.utils.cpp_extension')
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        from torch.utils.cpp_extension import load
        return load(name=f'mmext_topk_mask_{_cpu_tag()}', sources=[str(_SOURCE)],
                    extra_cflags=['-O3', '-march=native'], verbose=False)
    except Exception as error:  # no compiler / ninja, read-only cache...: stay correct, slower
        warnings.warn(f'mmext: could not build the CPU top-k kernel ({error}); k-NN attention '
                      'falls back to torch.topk, which is about 3x slower on CPU.')
        return None
    finally:
        logger.setLevel(level)


def topk_mask(logits: Tensor, k: int, inplace: bool = False) -> Tensor:
    """Additive mask that keeps the ``k`` largest entries of every row of ``logits``.

    Kept entries are 0, the others ``-inf``; exactly ``k`` per row along the last dim. NaN ranks
    above every number (as in ``torch.topk``); among equal values at the threshold the compiled
    CPU kernel keeps the lower indices, ``torch.topk`` (GPU, float64, or no compiler) any of them.

    On CPU a C++ kernel finds each row's threshold by bisection over the values (a few vectorised
    counting passes), several times faster than ``torch.topk``, which sorts (value, index) pairs.

    Args:
        logits (Tensor): Scores of any shape ``(..., M)``, ``M >= 1``.
        k (int): Entries kept per row, ``1 <= k <= M``.
        inplace (bool): Overwrite ``logits`` with the mask when it is a contiguous float32
            CPU tensor (or any tensor on the ``torch.topk`` path), saving an allocation of its
            size. Defaults to False.

    Returns:
        Tensor: Mask of the shape and dtype of ``logits``.
    """
    num = logits.shape[-1] if logits.dim() else 0
    if not 1 <= k <= num:
        raise ValueError(f'k must be in [1, {num}] for logits of shape {tuple(logits.shape)}, '
                         f'got {k}')
    if logits.device.type == 'cpu' and logits.dtype in (torch.float32, torch.float16,
                                                        torch.bfloat16):
        kernel = _load_kernel()
        if kernel is not None:
            # float16/bfloat16 -> float32 is exact and keeps the order
            x = logits.float().contiguous()
            if x is logits and not inplace:
                x = x.clone()
            return kernel.topk_mask_(x, k).to(logits.dtype)
    index = logits.topk(k, dim=-1, sorted=False).indices
    mask = logits if inplace else torch.empty_like(logits)
    return mask.fill_(float('-inf')).scatter_(-1, index, 0.)
