# Copyright (c) mmext contributors. All rights reserved.
"""Per-row top-k selection as an additive attention mask, with a compiled CPU kernel."""
import functools
from types import ModuleType
from typing import Optional

import torch
from torch import Tensor

from .cpp_build import load_cpu_kernel

__all__ = ['topk_mask']


@functools.lru_cache(maxsize=None)
def _load_kernel() -> Optional[ModuleType]:
    """The compiled CPU kernel, built on first use; None (with a warning) without a compiler."""
    return load_cpu_kernel('topk_select.cpp',
                           'k-NN attention falls back to torch.topk, about 3x slower on CPU')


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
