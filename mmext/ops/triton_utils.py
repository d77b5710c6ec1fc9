# Copyright (c) mmext contributors. All rights reserved.
"""Pieces shared by the Triton kernels of this folder."""
import triton
import triton.language as tl

__all__ = ['neighbour', 'pixel_block']


@triton.jit
def neighbour(y, x, t, dil, H, W, KS: tl.constexpr, REVERSE: tl.constexpr):
    """Position of offset ``t`` (row-major in the ``KS x KS`` window, dilation ``dil``) from
    ``(y, x)``, or with REVERSE the query that reads ``(y, x)`` through offset ``t``, and
    whether it lies inside the ``H x W`` map."""
    dy = (t // KS - KS // 2) * dil
    dx = (t % KS - KS // 2) * dil
    if REVERSE:
        dy = -dy
        dx = -dx
    ny, nx = y + dy, x + dx
    return ny, nx, (ny >= 0) & (ny < H) & (nx >= 0) & (nx < W)


@triton.jit
def pixel_block(axis: tl.constexpr, H, W, BLOCK_P: tl.constexpr):
    """This program's block of flattened ``H x W`` pixels along grid ``axis``: the indices,
    which of them lie in the map, their rows and columns."""
    pix = tl.program_id(axis) * BLOCK_P + tl.arange(0, BLOCK_P)
    return pix, pix < H * W, pix // W, pix % W
