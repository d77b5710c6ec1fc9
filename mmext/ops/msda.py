# Copyright (c) mmext contributors. All rights reserved.
"""Fused CPU kernel of multi-scale dilated attention (DilateFormer's MSDA)."""
import functools
from types import ModuleType
from typing import Optional, Sequence

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from .cpp_build import load_cpu_kernel

__all__ = ['msda_cpu_kernel', 'fused_msda']


@functools.lru_cache(maxsize=None)
def _load_kernel() -> Optional[ModuleType]:
    return load_cpu_kernel('msda.cpp', 'MSDA falls back to its PyTorch implementation, '
                           'about 3x slower on CPU')


def msda_cpu_kernel(q: Tensor) -> Optional[ModuleType]:
    """The compiled kernel when it can run on ``q`` (a CPU floating tensor), else None."""
    if q.device.type != 'cpu' or not q.is_floating_point():
        return None
    return _load_kernel()


class _FusedMSDA(torch.autograd.Function):
    """Saves Q, K, V (held by the caller anyway) and the ``k*k`` softmax weights per query."""

    @staticmethod
    def forward(ctx, q: Tensor, k: Tensor, v: Tensor, kernel: ModuleType, scale: float,
                kernel_size: int, dilations: Sequence[int], mask: bool) -> Tensor:
        out, attn = kernel.forward(q, k, v, scale, kernel_size, list(dilations), mask)
        ctx.save_for_backward(q, k, v, attn)
        ctx.args = (kernel, scale, kernel_size, list(dilations), mask)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor):
        kernel, *args = ctx.args
        grads = kernel.backward(grad_out.contiguous(), *ctx.saved_tensors, *args)
        return (*grads, None, None, None, None, None)


def fused_msda(kernel: ModuleType, q: Tensor, k: Tensor, v: Tensor, scale: float,
               kernel_size: int, dilations: Sequence[int], padding_mode: str) -> Tensor:
    """MSDA through the compiled kernel (see
    :func:`mmext.models.layers.msda.multi_scale_dilated_attention`, whose PyTorch path gives the
    same result); arguments as there, shapes already checked.

    float16 / bfloat16 inputs are computed in float32 (as the PyTorch path accumulates) and the
    output cast back to the dtype of ``v``.
    """
    dtype = v.dtype
    compute = dtype if dtype in (torch.float32, torch.float64) else torch.float32
    q, k, v = (t.to(compute).contiguous() for t in (q, k, v))
    out = _FusedMSDA.apply(q, k, v, kernel, scale, kernel_size, tuple(dilations),
                           padding_mode == 'mask')
    return out.to(dtype)
