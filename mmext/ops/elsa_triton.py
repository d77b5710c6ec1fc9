# Copyright (c) mmext contributors. All rights reserved.
"""Triton kernels of ELSA's aggregation (Hadamard attention with the ghost head) for CUDA.

Same algorithm as the CPU kernel (``elsa.cpp``)::

    out[c, p] = sum_t v[c, p + off_t] * (mul[c, t] * attn[t, p] + add[c, t])   (zero padding)

one program per (batch x head, block of channels, block of pixels), every neighbour a masked
load at a shifted position. Backward: grad attn per query pixel (summed over channels in the
program), grad v per key pixel (gathered from the queries that read it), grad of the ghost
filters per (head, offset, channel block) summed over batch and pixels. Accumulation is
float32 whatever the input dtype. Tested on CPU with ``TRITON_INTERPRET=1``.
"""
from typing import Optional

import torch
import triton
import triton.language as tl
from torch import Tensor
from torch.autograd.function import once_differentiable

from mmext.ops.triton_utils import neighbour, pixel_block

__all__ = ['triton_elsa_aggregate']


@triton.jit
def _forward(v, attn, mul, add, out, G, C, H, W, dil, KS: tl.constexpr, HAS_MUL: tl.constexpr,
             HAS_ADD: tl.constexpr, BLOCK_C: tl.constexpr, BLOCK_P: tl.constexpr):
    bg = tl.program_id(0)
    hd = bg % G
    ch = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
    pix, in_map, y, x = pixel_block(2, H, W, BLOCK_P)
    HW = H * W
    K = KS * KS
    ch_ok = ch < C
    vbase = bg.to(tl.int64) * C * HW
    abase = bg.to(tl.int64) * K * HW
    acc = tl.zeros((BLOCK_C, BLOCK_P), tl.float32)
    for t in tl.static_range(KS * KS):
        ny, nx, ok = neighbour(y, x, t, dil, H, W, KS, False)
        a = tl.load(attn + abase + t * HW + pix, mask=in_map, other=0.).to(tl.float32)
        gidx = (hd * C + ch) * K + t
        vt = tl.load(v + vbase + ch[:, None] * HW + (ny * W + nx)[None, :],
                     mask=ch_ok[:, None] & (ok & in_map)[None, :], other=0.).to(tl.float32)
        if HAS_MUL:
            filt = tl.load(mul + gidx, mask=ch_ok, other=0.).to(tl.float32)[:, None] * a[None, :]
        else:
            filt = a[None, :]
        if HAS_ADD:
            filt = filt + tl.load(add + gidx, mask=ch_ok, other=0.).to(tl.float32)[:, None]
        acc += filt * vt
    tl.store(out + vbase + ch[:, None] * HW + pix[None, :], acc,
             mask=ch_ok[:, None] & in_map[None, :])


@triton.jit
def _grad_attn(v, mul, go, ga, G, C, H, W, dil, KS: tl.constexpr, HAS_MUL: tl.constexpr,
               BLOCK_C: tl.constexpr, BLOCK_P: tl.constexpr):
    bg = tl.program_id(0)
    hd = bg % G
    pix, in_map, y, x = pixel_block(1, H, W, BLOCK_P)
    HW = H * W
    K = KS * KS
    vbase = bg.to(tl.int64) * C * HW
    abase = bg.to(tl.int64) * K * HW
    for t in tl.static_range(KS * KS):
        ny, nx, ok = neighbour(y, x, t, dil, H, W, KS, False)
        acc = tl.zeros((BLOCK_P, ), tl.float32)
        for c0 in range(0, C, BLOCK_C):
            ch = c0 + tl.arange(0, BLOCK_C)
            ch_ok = ch < C
            gt = tl.load(go + vbase + ch[:, None] * HW + pix[None, :],
                         mask=ch_ok[:, None] & in_map[None, :], other=0.).to(tl.float32)
            vt = tl.load(v + vbase + ch[:, None] * HW + (ny * W + nx)[None, :],
                         mask=ch_ok[:, None] & (ok & in_map)[None, :], other=0.).to(tl.float32)
            prod = gt * vt
            if HAS_MUL:
                m = tl.load(mul + (hd * C + ch) * K + t, mask=ch_ok, other=0.).to(tl.float32)
                prod = prod * m[:, None]
            acc += tl.sum(prod, axis=0)
        tl.store(ga + abase + t * HW + pix, acc, mask=in_map)


@triton.jit
def _grad_v(attn, mul, add, go, gv, G, C, H, W, dil, KS: tl.constexpr, HAS_MUL: tl.constexpr,
            HAS_ADD: tl.constexpr, BLOCK_C: tl.constexpr, BLOCK_P: tl.constexpr):
    bg = tl.program_id(0)
    hd = bg % G
    ch = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
    pix, in_map, y, x = pixel_block(2, H, W, BLOCK_P)
    HW = H * W
    K = KS * KS
    ch_ok = ch < C
    vbase = bg.to(tl.int64) * C * HW
    abase = bg.to(tl.int64) * K * HW
    acc = tl.zeros((BLOCK_C, BLOCK_P), tl.float32)
    for t in tl.static_range(KS * KS):
        qy, qx, ok = neighbour(y, x, t, dil, H, W, KS, True)
        ok = ok & in_map
        qp = qy * W + qx
        a = tl.load(attn + abase + t * HW + qp, mask=ok, other=0.).to(tl.float32)
        gt = tl.load(go + vbase + ch[:, None] * HW + qp[None, :], mask=ch_ok[:, None] & ok[None, :],
                     other=0.).to(tl.float32)
        gidx = (hd * C + ch) * K + t
        if HAS_MUL:
            filt = tl.load(mul + gidx, mask=ch_ok, other=0.).to(tl.float32)[:, None] * a[None, :]
        else:
            filt = a[None, :]
        if HAS_ADD:
            filt = filt + tl.load(add + gidx, mask=ch_ok, other=0.).to(tl.float32)[:, None]
        acc += filt * gt
    tl.store(gv + vbase + ch[:, None] * HW + pix[None, :], acc,
             mask=ch_ok[:, None] & in_map[None, :])


@triton.jit
def _grad_ghost(v, attn, go, gmul, gadd, B, G, C, H, W, dil, KS: tl.constexpr,
                NEED_MUL: tl.constexpr, NEED_ADD: tl.constexpr, BLOCK_C: tl.constexpr,
                BLOCK_P: tl.constexpr):
    gt_ = tl.program_id(0)
    hd, t = gt_ // (KS * KS), gt_ % (KS * KS)
    ch = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
    HW = H * W
    K = KS * KS
    ch_ok = ch < C
    acc_m = tl.zeros((BLOCK_C, BLOCK_P), tl.float32)
    acc_a = tl.zeros((BLOCK_C, BLOCK_P), tl.float32)
    for b in range(0, B):
        bg = b * G + hd
        vbase = bg.to(tl.int64) * C * HW
        abase = bg.to(tl.int64) * K * HW
        for p0 in range(0, HW, BLOCK_P):
            pix = p0 + tl.arange(0, BLOCK_P)
            in_map = pix < HW
            y, x = pix // W, pix % W
            ny, nx, ok = neighbour(y, x, t, dil, H, W, KS, False)
            tile = ch_ok[:, None] & (ok & in_map)[None, :]
            prod = (tl.load(go + vbase + ch[:, None] * HW + pix[None, :], mask=tile,
                            other=0.).to(tl.float32) *
                    tl.load(v + vbase + ch[:, None] * HW + (ny * W + nx)[None, :], mask=tile,
                            other=0.).to(tl.float32))
            if NEED_ADD:
                acc_a += prod
            if NEED_MUL:
                a = tl.load(attn + abase + t * HW + pix, mask=in_map, other=0.).to(tl.float32)
                acc_m += prod * a[None, :]
    gidx = (hd * C + ch) * K + t
    if NEED_MUL:
        tl.store(gmul + gidx, tl.sum(acc_m, axis=1), mask=ch_ok)
    if NEED_ADD:
        tl.store(gadd + gidx, tl.sum(acc_a, axis=1), mask=ch_ok)


_BLOCK_P = 64


def _blocks(C: int):
    return dict(BLOCK_C=min(32, triton.next_power_of_2(C)), BLOCK_P=_BLOCK_P)


class _TritonELSA(torch.autograd.Function):

    @staticmethod
    def forward(ctx, v: Tensor, attn: Tensor, mul: Optional[Tensor], add: Optional[Tensor],
                kernel_size: int, dilation: int) -> Tensor:
        B, G, C, H, W = v.shape
        out = torch.empty_like(v)
        meta = _blocks(C)
        grid = (B * G, triton.cdiv(C, meta['BLOCK_C']), triton.cdiv(H * W, _BLOCK_P))
        # an absent filter is never read (HAS_* is False): v stands in for its pointer
        _forward[grid](v, attn, mul if mul is not None else v, add if add is not None else v, out,
                       G, C, H, W, dilation, KS=kernel_size, HAS_MUL=mul is not None,
                       HAS_ADD=add is not None, **meta)
        ctx.save_for_backward(v, attn, mul, add)
        ctx.args = (kernel_size, dilation)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor):
        v, attn, mul, add = ctx.saved_tensors
        kernel_size, dilation = ctx.args
        B, G, C, H, W = v.shape
        go = grad_out.contiguous()
        meta = _blocks(C)
        need_v, need_a, need_m, need_add = ctx.needs_input_grad[:4]
        mul_ptr = mul if mul is not None else v
        add_ptr = add if add is not None else v
        gv = ga = gm = gadd = None
        if need_a:
            ga = torch.empty_like(attn)
            _grad_attn[(B * G, triton.cdiv(H * W, _BLOCK_P))](
                v, mul_ptr, go, ga, G, C, H, W, dilation, KS=kernel_size,
                HAS_MUL=mul is not None, **meta)
        if need_v:
            gv = torch.empty_like(v)
            grid = (B * G, triton.cdiv(C, meta['BLOCK_C']), triton.cdiv(H * W, _BLOCK_P))
            _grad_v[grid](attn, mul_ptr, add_ptr, go, gv, G, C, H, W, dilation, KS=kernel_size,
                          HAS_MUL=mul is not None, HAS_ADD=add is not None, **meta)
        need_m, need_add = need_m and mul is not None, need_add and add is not None
        if need_m or need_add:
            gm = torch.empty_like(mul) if need_m else None
            gadd = torch.empty_like(add) if need_add else None
            _grad_ghost[(G * kernel_size**2, triton.cdiv(C, meta['BLOCK_C']))](
                v, attn, go, gm if need_m else v, gadd if need_add else v, B, G, C, H, W,
                dilation, KS=kernel_size, NEED_MUL=need_m, NEED_ADD=need_add, **meta)
        return gv, ga, gm, gadd, None, None


def triton_elsa_aggregate(v: Tensor, attn: Tensor, ghost_mul: Optional[Tensor],
                          ghost_add: Optional[Tensor], kernel_size: int,
                          dilation: int) -> Tensor:
    """:func:`mmext.models.layers.elsa.elsa_aggregate` through the Triton kernels (same
    arguments, shapes already checked); the output has the dtype of ``v``."""
    attn = attn.to(v.dtype).contiguous()
    mul, add = (t.to(v.dtype).contiguous() if t is not None else None
                for t in (ghost_mul, ghost_add))
    return _TritonELSA.apply(v.contiguous(), attn, mul, add, kernel_size, dilation)
