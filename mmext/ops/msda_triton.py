# Copyright (c) mmext contributors. All rights reserved.
"""Triton kernels of multi-scale dilated attention (DilateFormer's MSDA) for CUDA tensors.

Same algorithm as the CPU kernel (``msda.cpp``): one program per (batch x head, block of
pixels) computes the ``k*k`` logits of its queries, their softmax and the weighted sum of the
values, with every neighbour a masked load at a shifted position; the backward runs one pass
per query (softmax backward, grad q) and one per key (grad k, grad v gathered from the queries
that saw it). Accumulation is float32 whatever the input dtype. Tested on CPU with
``TRITON_INTERPRET=1``; timings on a GPU are in the READMEs where one was available.
"""
from typing import Sequence

import torch
import triton
import triton.language as tl
from torch import Tensor
from torch.autograd.function import once_differentiable

from mmext.ops.triton_utils import neighbour, pixel_block

__all__ = ['triton_msda']


@triton.jit
def _forward(q, k, v, out, attn, dils, heads_per_group, heads, H, W, D,
             KS: tl.constexpr, MASK: tl.constexpr, BLOCK_D: tl.constexpr,
             BLOCK_P: tl.constexpr):
    bh = tl.program_id(0)
    pix, in_map, y, x = pixel_block(1, H, W, BLOCK_P)
    HW = H * W
    dil = tl.load(dils + (bh % heads) // heads_per_group)
    ch = tl.arange(0, BLOCK_D)
    ch_ok = ch < D
    base = bh.to(tl.int64) * D * HW
    abase = bh.to(tl.int64) * KS * KS * HW
    qt = tl.load(q + base + ch[:, None] * HW + pix[None, :],
                 mask=ch_ok[:, None] & in_map[None, :], other=0.).to(tl.float32)
    # pass 1: logits into the attn buffer, running max
    mx = tl.full((BLOCK_P, ), float('-inf'), tl.float32)
    for t in tl.static_range(KS * KS):
        ny, nx, ok = neighbour(y, x, t, dil, H, W, KS, False)
        kt = tl.load(k + base + ch[:, None] * HW + (ny * W + nx)[None, :],
                     mask=ch_ok[:, None] & (ok & in_map)[None, :], other=0.).to(tl.float32)
        logit = tl.sum(qt * kt, axis=0)
        if MASK:  # (lanes past the map's end stay finite: they are never stored)
            logit = tl.where(ok | ~in_map, logit, float('-inf'))
        mx = tl.maximum(mx, logit)
        tl.store(attn + abase + t * HW + pix, logit, mask=in_map)
    # pass 2: normaliser
    total = tl.zeros((BLOCK_P, ), tl.float32)
    for t in tl.static_range(KS * KS):
        logit = tl.load(attn + abase + t * HW + pix, mask=in_map, other=0.).to(tl.float32)
        total += tl.exp(logit - mx)
    # pass 3: weights and weighted sum of the values
    acc = tl.zeros((BLOCK_D, BLOCK_P), tl.float32)
    for t in tl.static_range(KS * KS):
        ny, nx, ok = neighbour(y, x, t, dil, H, W, KS, False)
        logit = tl.load(attn + abase + t * HW + pix, mask=in_map, other=0.).to(tl.float32)
        p = tl.exp(logit - mx) / total
        tl.store(attn + abase + t * HW + pix, p, mask=in_map)
        vt = tl.load(v + base + ch[:, None] * HW + (ny * W + nx)[None, :],
                     mask=ch_ok[:, None] & (ok & in_map)[None, :], other=0.).to(tl.float32)
        acc += p[None, :] * vt
    tl.store(out + base + ch[:, None] * HW + pix[None, :], acc,
             mask=ch_ok[:, None] & in_map[None, :])


@triton.jit
def _backward_query(q, k, v, attn, go, gl, gq, dils, heads_per_group, heads, H, W, D,
                    KS: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_P: tl.constexpr):
    bh = tl.program_id(0)
    pix, in_map, y, x = pixel_block(1, H, W, BLOCK_P)
    HW = H * W
    dil = tl.load(dils + (bh % heads) // heads_per_group)
    ch = tl.arange(0, BLOCK_D)
    ch_ok = ch < D
    base = bh.to(tl.int64) * D * HW
    abase = bh.to(tl.int64) * KS * KS * HW
    tile = ch_ok[:, None] & in_map[None, :]
    got = tl.load(go + base + ch[:, None] * HW + pix[None, :], mask=tile, other=0.).to(tl.float32)
    # d out / d attn_t = <go, v_t>, kept in gl; dot = sum_t attn_t * that
    dot = tl.zeros((BLOCK_P, ), tl.float32)
    for t in tl.static_range(KS * KS):
        ny, nx, ok = neighbour(y, x, t, dil, H, W, KS, False)
        vt = tl.load(v + base + ch[:, None] * HW + (ny * W + nx)[None, :],
                     mask=ch_ok[:, None] & (ok & in_map)[None, :], other=0.).to(tl.float32)
        ga = tl.sum(got * vt, axis=0)
        p = tl.load(attn + abase + t * HW + pix, mask=in_map, other=0.).to(tl.float32)
        dot += p * ga
        tl.store(gl + abase + t * HW + pix, ga, mask=in_map)
    acc = tl.zeros((BLOCK_D, BLOCK_P), tl.float32)
    for t in tl.static_range(KS * KS):
        ny, nx, ok = neighbour(y, x, t, dil, H, W, KS, False)
        p = tl.load(attn + abase + t * HW + pix, mask=in_map, other=0.).to(tl.float32)
        ga = tl.load(gl + abase + t * HW + pix, mask=in_map, other=0.)
        g = p * (ga - dot)  # softmax backward
        tl.store(gl + abase + t * HW + pix, g, mask=in_map)
        kt = tl.load(k + base + ch[:, None] * HW + (ny * W + nx)[None, :],
                     mask=ch_ok[:, None] & (ok & in_map)[None, :], other=0.).to(tl.float32)
        acc += g[None, :] * kt
    tl.store(gq + base + ch[:, None] * HW + pix[None, :], acc, mask=tile)


@triton.jit
def _backward_key(q, attn, go, gl, gk, gv, dils, heads_per_group, heads, H, W, D,
                  KS: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_P: tl.constexpr):
    bh = tl.program_id(0)
    pix, in_map, y, x = pixel_block(1, H, W, BLOCK_P)
    HW = H * W
    dil = tl.load(dils + (bh % heads) // heads_per_group)
    ch = tl.arange(0, BLOCK_D)
    ch_ok = ch < D
    base = bh.to(tl.int64) * D * HW
    abase = bh.to(tl.int64) * KS * KS * HW
    acc_k = tl.zeros((BLOCK_D, BLOCK_P), tl.float32)
    acc_v = tl.zeros((BLOCK_D, BLOCK_P), tl.float32)
    for t in tl.static_range(KS * KS):
        # the query that reads this key through offset t
        qy, qx, ok = neighbour(y, x, t, dil, H, W, KS, True)
        ok = ok & in_map
        qp = qy * W + qx
        g = tl.load(gl + abase + t * HW + qp, mask=ok, other=0.)
        p = tl.load(attn + abase + t * HW + qp, mask=ok, other=0.).to(tl.float32)
        tile = ch_ok[:, None] & ok[None, :]
        qt = tl.load(q + base + ch[:, None] * HW + qp[None, :], mask=tile, other=0.).to(tl.float32)
        got = tl.load(go + base + ch[:, None] * HW + qp[None, :], mask=tile,
                      other=0.).to(tl.float32)
        acc_k += g[None, :] * qt
        acc_v += p[None, :] * got
    tile = ch_ok[:, None] & in_map[None, :]
    tl.store(gk + base + ch[:, None] * HW + pix[None, :], acc_k, mask=tile)
    tl.store(gv + base + ch[:, None] * HW + pix[None, :], acc_v, mask=tile)


def _launch_args(q: Tensor, dilations: Tensor):
    B, heads, d, H, W = q.shape
    block_p = 64
    grid = (B * heads, triton.cdiv(H * W, block_p))
    common = (dilations, heads // dilations.numel(), heads, H, W, d)
    return grid, common, dict(BLOCK_D=triton.next_power_of_2(d), BLOCK_P=block_p)


class _TritonMSDA(torch.autograd.Function):

    @staticmethod
    def forward(ctx, q: Tensor, k: Tensor, v: Tensor, kernel_size: int,
                dilations: Sequence[int], mask: bool) -> Tensor:
        B, heads, d, H, W = q.shape
        dil = torch.tensor(dilations, dtype=torch.int32, device=q.device)
        out = torch.empty_like(q)
        # float32 weights whatever the input dtype (written as logits first, then overwritten)
        attn = q.new_empty(B, heads, kernel_size**2, H, W, dtype=torch.float32)
        grid, common, meta = _launch_args(q, dil)
        _forward[grid](q, k, v, out, attn, *common, KS=kernel_size, MASK=mask, **meta)
        ctx.save_for_backward(q, k, v, attn, dil)
        ctx.kernel_size = kernel_size
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor):
        q, k, v, attn, dil = ctx.saved_tensors
        go = grad_out.contiguous()
        gl = torch.empty_like(attn)
        gq, gk, gv = (torch.empty_like(t) for t in (q, k, v))
        grid, common, meta = _launch_args(q, dil)
        _backward_query[grid](q, k, v, attn, go, gl, gq, *common, KS=ctx.kernel_size, **meta)
        _backward_key[grid](q, attn, go, gl, gk, gv, *common, KS=ctx.kernel_size, **meta)
        return gq, gk, gv, None, None, None


def triton_msda(q: Tensor, k: Tensor, v: Tensor, kernel_size: int, dilations: Sequence[int],
                padding_mode: str) -> Tensor:
    """MSDA through the Triton kernels; arguments and result as
    :func:`mmext.models.layers.msda.multi_scale_dilated_attention` (shapes already checked).
    The output has the dtype of ``v``."""
    dtype = v.dtype
    q, k, v = (t.to(dtype).contiguous() for t in (q, k, v))
    return _TritonMSDA.apply(q, k, v, kernel_size, tuple(dilations), padding_mode == 'mask')
