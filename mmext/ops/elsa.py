# Copyright (c) mmext contributors. All rights reserved.
"""Fused CPU kernel of ELSA's aggregation (Hadamard attention with the ghost head)."""
import functools
from types import ModuleType
from typing import Optional

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from .cpp_build import load_cpu_kernel

__all__ = ['elsa_cpu_kernel', 'fused_elsa_aggregate']


@functools.lru_cache(maxsize=None)
def _load_kernel() -> Optional[ModuleType]:
    return load_cpu_kernel('elsa.cpp', 'ELSA falls back to its PyTorch aggregation, '
                           'several times slower on CPU')


def elsa_cpu_kernel(v: Tensor) -> Optional[ModuleType]:
    """The compiled kernel when it can run on ``v`` (a CPU floating tensor), else None."""
    if v.device.type != 'cpu' or not v.is_floating_point():
        return None
    return _load_kernel()


class _FusedELSA(torch.autograd.Function):
    """Saves only the inputs; the backward recomputes nothing larger than one row."""

    @staticmethod
    def forward(ctx, v: Tensor, attn: Tensor, mul: Tensor, add: Tensor, kernel: ModuleType,
                kernel_size: int, dilation: int) -> Tensor:
        ctx.save_for_backward(v, attn, mul, add)
        ctx.args = (kernel, kernel_size, dilation)
        return kernel.forward(v, attn, mul, add, kernel_size, dilation)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor):
        kernel, kernel_size, dilation = ctx.args
        grads = kernel.backward(grad_out.contiguous(), *ctx.saved_tensors, kernel_size, dilation,
                                list(ctx.needs_input_grad[:4]))
        return (*grads, None, None, None)


def fused_elsa_aggregate(kernel: ModuleType, v: Tensor, attn: Tensor, ghost_mul: Optional[Tensor],
                         ghost_add: Optional[Tensor], kernel_size: int, dilation: int) -> Tensor:
    """:func:`mmext.models.layers.elsa.elsa_aggregate` through the compiled kernel (same
    arguments, shapes already checked; its PyTorch path gives the same result).

    float16 / bfloat16 inputs are computed in float32 (as the PyTorch path accumulates) and the
    output cast back to the dtype of ``v``.
    """
    dtype = v.dtype
    compute = dtype if dtype in (torch.float32, torch.float64) else torch.float32
    empty = v.new_empty(0, dtype=compute)
    v, attn = v.to(compute).contiguous(), attn.to(compute).contiguous()
    mul, add = (t.to(compute).contiguous() if t is not None else empty
                for t in (ghost_mul, ghost_add))
    out = _FusedELSA.apply(v, attn, mul, add, kernel, kernel_size, dilation)
    return out.to(dtype)
