# Copyright (c) mmext contributors. All rights reserved.
"""Per-row top-k selection as an additive attention mask, with a compiled CPU kernel."""
import functools
from types import ModuleType
from typing import Optional

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from .cpp_build import load_cpu_kernel

__all__ = ['topk_mask', 'topk_softmax', 'topk_cpu_kernel']


@functools.lru_cache(maxsize=None)
def _load_kernel() -> Optional[ModuleType]:
    """The compiled CPU kernel, built on first use; None (with a warning) without a compiler."""
    return load_cpu_kernel('topk_select.cpp',
                           'k-NN attention falls back to torch.topk, about 3x slower on CPU')


def _check_k(logits: Tensor, k: int) -> None:
    num = logits.shape[-1] if logits.dim() else 0
    if not 1 <= k <= num:
        raise ValueError(f'k must be in [1, {num}] for logits of shape {tuple(logits.shape)}, '
                         f'got {k}')


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
    _check_k(logits, k)
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


def topk_cpu_kernel(x: Tensor) -> Optional[ModuleType]:
    """The compiled kernel when it can run on ``x`` (a float32/16 or bfloat16 CPU tensor)."""
    if x.device.type != 'cpu' or x.dtype not in (torch.float32, torch.float16, torch.bfloat16):
        return None
    return _load_kernel()


class _TopkSoftmax(torch.autograd.Function):
    """Forward in the kernel; backward is the plain softmax backward (dropped entries have
    probability 0 and so get no gradient), which needs only the output."""

    @staticmethod
    def forward(ctx, logits: Tensor, k: int, kernel: ModuleType) -> Tensor:
        probs = kernel.topk_softmax(logits.float().contiguous(), k).to(logits.dtype)
        ctx.save_for_backward(probs)
        return probs

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor):
        probs, = ctx.saved_tensors
        return torch._softmax_backward_data(grad, probs, -1, probs.dtype), None, None


def topk_softmax(logits: Tensor, k: int) -> Tensor:
    """Softmax over the ``k`` largest entries of every row; the others get probability 0.

    Equal to ``(logits + topk_mask(logits, k)).softmax(-1)`` with the selection made without
    gradient. On CPU the compiled kernel selects and normalises each row in one pass (no mask
    tensor); elsewhere (or without a compiler) it is that expression.

    Args:
        logits (Tensor): Scores ``(..., M)``.
        k (int): Entries kept per row, ``1 <= k <= M``.

    Returns:
        Tensor: Probabilities of the shape and dtype of ``logits``.
    """
    _check_k(logits, k)
    kernel = topk_cpu_kernel(logits)
    if kernel is not None:
        return _TopkSoftmax.apply(logits, k, kernel)
    return (logits + topk_mask(logits.detach(), k)).softmax(-1)
