"""Enhanced Local Self-Attention (ELSA).

ELSA: Enhanced Local Self-Attention for Vision Transformer (Zhou et al., arXiv 2112.12786).
The official code relies on a custom CUDA kernel; this module computes the same result with a
compiled CPU kernel or, elsewhere, per-offset accumulation in PyTorch, so that neither the unfolded
``k x k`` neighbourhood of the values nor the per-pixel filters are ever materialised.
"""
import math
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_
from torch.autograd.function import once_differentiable

from mmext.ops.cpp_build import triton_op
from mmext.ops.elsa import elsa_cpu_kernel, fused_elsa_aggregate
from mmext.registry import MODELS

__all__ = ['ELSA', 'elsa_aggregate']


def _offsets(kernel_size: int, dilation: int):
    """Yield ``(index, row_start, col_start)`` of every kernel offset in unfold (row-major) order,
    as start positions inside the zero-padded map."""
    for i in range(kernel_size):
        for j in range(kernel_size):
            yield i * kernel_size + j, i * dilation, j * dilation


def _accum_dtype(dtype: torch.dtype) -> torch.dtype:
    # Sums over up to k*k offsets lose too many bits in bf16/fp16; accumulate in fp32 instead.
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


class _HadamardAggregate(torch.autograd.Function):
    """``out[b,g,c,p] = sum_k m[g,c,k] * attn[b,g,k,p] * v[b,g,c,p + off_k]`` (zero padding).

    Forward and backward loop over the ``k*k`` offsets and only keep ``O(B*C*H*W)`` temporaries;
    autograd saves just the inputs, not one product per offset.
    """

    @staticmethod
    def forward(ctx, v: torch.Tensor, attn: torch.Tensor, mul: Optional[torch.Tensor],
                kernel_size: int, dilation: int) -> torch.Tensor:
        B, G, Cg, H, W = v.shape
        pad = kernel_size // 2 * dilation
        acc = _accum_dtype(v.dtype)
        # (B, G, Cg, H + 2p, W + 2p); the borders are the zero padding of the formula.
        vp = F.pad(v.to(acc), (pad, pad, pad, pad))
        a = attn.to(acc)
        m = mul.to(acc) if mul is not None else None
        out = torch.zeros((B, G, Cg, H, W), dtype=acc, device=v.device)
        for k, r, c in _offsets(kernel_size, dilation):
            vs = vp[..., r:r + H, c:c + W]
            if m is None:
                out.addcmul_(vs, a[:, :, k:k + 1])
            else:
                out.addcmul_(vs * m[None, :, :, k, None, None], a[:, :, k:k + 1])
        ctx.kernel_size, ctx.dilation = kernel_size, dilation
        ctx.has_mul = mul is not None
        ctx.save_for_backward(v, attn, mul if mul is not None else v.new_empty(0))
        return out.to(v.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: torch.Tensor):
        v, attn, mul = ctx.saved_tensors
        ks, dil = ctx.kernel_size, ctx.dilation
        B, G, Cg, H, W = v.shape
        pad = ks // 2 * dil
        acc = _accum_dtype(v.dtype)
        go = grad_out.to(acc)
        vp = F.pad(v.to(acc), (pad, pad, pad, pad))
        a = attn.to(acc)
        m = mul.to(acc) if ctx.has_mul else None
        need_v, need_a, need_m = ctx.needs_input_grad[:3]
        grad_vp = torch.zeros_like(vp) if need_v else None
        grad_a = torch.empty_like(a) if need_a else None
        grad_m = torch.empty_like(m) if (need_m and m is not None) else None
        for k, r, c in _offsets(ks, dil):
            vs = vp[..., r:r + H, c:c + W]
            ak = a[:, :, k:k + 1]
            # gradient through the per-channel ghost multiplier, (B, G, Cg, H, W)
            go_m = go if m is None else go * m[None, :, :, k, None, None]
            if grad_vp is not None:
                grad_vp[..., r:r + H, c:c + W].addcmul_(go_m, ak)
            if grad_a is not None:
                grad_a[:, :, k] = (go_m * vs).sum(2)
            if grad_m is not None:
                grad_m[:, :, k] = (go * vs * ak).sum((0, 3, 4))
        grad_v = grad_vp[..., pad:pad + H, pad:pad + W].to(v.dtype) if grad_vp is not None else None
        return (grad_v, grad_a.to(attn.dtype) if grad_a is not None else None,
                grad_m.to(mul.dtype) if grad_m is not None else None, None, None)


def _traceable_aggregate(v: torch.Tensor, attn: torch.Tensor, mul: Optional[torch.Tensor],
                         kernel_size: int, dilation: int) -> torch.Tensor:
    """Unfold + matmul version of the multiplicative term (memory-hungry; tracing only)."""
    B, G, Cg, H, W = v.shape
    K = kernel_size * kernel_size
    cols = F.unfold(v.reshape(B, G * Cg, H, W), kernel_size, dilation=dilation,
                    padding=kernel_size // 2 * dilation)
    # (B, G*Cg*K, H*W) -> (B, G, H*W, Cg, K)
    cols = cols.reshape(B, G, Cg, K, H * W).permute(0, 1, 4, 2, 3)
    if mul is not None:
        cols = cols * mul[None, :, None]
    # (B, G, H*W, Cg, K) @ (B, G, H*W, K, 1) -> (B, G, Cg, H, W)
    out = cols @ attn.reshape(B, G, K, H * W).permute(0, 1, 3, 2).unsqueeze(-1)
    return out.squeeze(-1).permute(0, 1, 3, 2).reshape(B, G, Cg, H, W)


def _check_shapes(v: torch.Tensor, attn: torch.Tensor, ghost_mul: Optional[torch.Tensor],
                  ghost_add: Optional[torch.Tensor], kernel_size: int) -> None:
    """Raise a ValueError naming the tensor whose shape does not fit ``v``."""
    if v.dim() != 5 or attn.dim() != 5:
        raise ValueError(f'"v" and "attn" must be 5-D (B, G, C, H, W), got {tuple(v.shape)} '
                         f'and {tuple(attn.shape)}')
    B, G, Cg, H, W = v.shape
    K = kernel_size * kernel_size
    if tuple(attn.shape) != (B, G, K, H, W):
        raise ValueError(f'"attn" must have shape {(B, G, K, H, W)} for v of shape '
                         f'{tuple(v.shape)} and kernel_size {kernel_size}, got {tuple(attn.shape)}')
    for name, t in (('ghost_mul', ghost_mul), ('ghost_add', ghost_add)):
        if t is not None and tuple(t.shape) != (G, Cg, K):
            raise ValueError(f'"{name}" must have shape {(G, Cg, K)}, got {tuple(t.shape)}')


def elsa_aggregate(v: torch.Tensor,
                   attn: torch.Tensor,
                   ghost_mul: Optional[torch.Tensor] = None,
                   ghost_add: Optional[torch.Tensor] = None,
                   kernel_size: int = 7,
                   dilation: int = 1) -> torch.Tensor:
    """Apply ELSA's Hadamard attention with the ghost head to the values.

    For every channel ``c`` of head ``g`` and pixel ``p``::

        out[c, p] = sum_k v[c, p + off_k] * (ghost_mul[c, k] * attn[g, k, p] + ghost_add[c, k])

    where ``off_k`` runs over the ``kernel_size x kernel_size`` dilated neighbourhood in unfold
    (row-major) order. Padding semantics (same as the official code's unfold fallback):
    neighbours outside the map are zeros, so they add nothing to the output, but they still hold
    their share of the softmax mass of ``attn``; nothing is renormalised at the borders.

    On CPU a compiled kernel (:mod:`mmext.ops.elsa`) computes both terms in one pass per output
    row, forward and backward; on CUDA Triton kernels (:mod:`mmext.ops.elsa_triton`) do the
    same. The PyTorch fallback (other devices, no compiler or Triton) computes the
    additive ghost term as a depthwise convolution of ``v`` and accumulates the multiplicative
    term offset by offset. Either way peak memory stays ``O(B*C*H*W)`` instead of the
    ``O(k*k*B*C*H*W)`` of an unfold-based implementation.

    Args:
        v (Tensor): Values, shape ``(B, G, Cg, H, W)`` (``G`` heads of ``Cg`` channels).
        attn (Tensor): Attention over the neighbourhood, shape ``(B, G, k*k, H, W)``.
        ghost_mul (Tensor, optional): Multiplicative ghost head, shape ``(G, Cg, k*k)``.
            ``None`` means all ones. Defaults to None.
        ghost_add (Tensor, optional): Additive ghost head, shape ``(G, Cg, k*k)``. ``None``
            means all zeros. Defaults to None.
        kernel_size (int): Neighbourhood size ``k`` (odd). Defaults to 7.
        dilation (int): Dilation of the neighbourhood. Defaults to 1.

    Returns:
        Tensor: Output of shape ``(B, G, Cg, H, W)``.
    """
    if torch.jit.is_tracing():
        # jit cannot look inside a custom autograd Function: give tracers (FLOP counters, export)
        # the same formula as one unfold + matmul, which they understand. Not used in training.
        # (Shapes are constants to a tracer, so they are only checked eagerly.)
        out = _traceable_aggregate(v, attn, ghost_mul, kernel_size, dilation)
    else:
        _check_shapes(v, attn, ghost_mul, ghost_add, kernel_size)
        kernel = elsa_cpu_kernel(v)
        if kernel is not None:
            return fused_elsa_aggregate(kernel, v, attn, ghost_mul, ghost_add, kernel_size,
                                        dilation)
        fused_cuda = triton_op('elsa_triton', 'triton_elsa_aggregate') if v.is_cuda else None
        if fused_cuda is not None:
            return fused_cuda(v, attn, ghost_mul, ghost_add, kernel_size, dilation)
        out = _HadamardAggregate.apply(v, attn, ghost_mul, kernel_size, dilation)
    B, G, Cg, H, W = v.shape
    if ghost_add is not None:
        # The additive ghost head does not depend on the pixel: it is a depthwise conv of v.
        weight = ghost_add.reshape(G * Cg, 1, kernel_size, kernel_size).to(v.dtype)
        conv = F.conv2d(v.reshape(B, G * Cg, H, W), weight, padding=kernel_size // 2 * dilation,
                        dilation=dilation, groups=G * Cg)
        out = out + conv.reshape(B, G, Cg, H, W)
    return out


@MODELS.register_module()
class ELSA(BaseModule):
    """Enhanced local self-attention (ELSA).

    From "ELSA: Enhanced Local Self-Attention for Vision Transformer" (arXiv 2112.12786).
    Hadamard attention: the attention over each pixel's ``k x k`` neighbourhood is generated from
    the Hadamard product ``q * k`` by a grouped ``k x k`` convolution, GELU and a ``1 x 1``
    convolution, then softmax-normalised per head. The ghost head modulates that attention per
    channel with learnt static filters (``ghost_mul ** lam`` and ``gamma * ghost_add``) before it
    aggregates the values. Padding: the neighbourhood is zero-padded at the borders of the map (see
    :func:`elsa_aggregate`), so any input size works without window padding.

    Args:
        embed_dims (int): Number of input/output channels.
        num_heads (int): Number of attention heads (each head has its own ``k*k`` attention map).
        kernel_size (int): Neighbourhood size (odd). Defaults to 7.
        dilation (int): Dilation of the neighbourhood. Defaults to 1.
        dim_qk (int, optional): Channels of the query and key; ``None`` uses
            ``embed_dims // 3 * 2`` rounded up to a multiple of ``group_width``. Defaults to None.
        dim_v (int, optional): Channels of the value; ``None`` uses ``embed_dims``.
            Defaults to None.
        group_width (int): Channels per group of the ``k x k`` attention-generating conv.
            Defaults to 8.
        qkv_bias (bool): Whether the q/k/v projection has a bias. Defaults to True.
        qk_scale (float, optional): Scale of the Hadamard product; ``None`` uses
            ``head_dim ** -0.5`` (ELSA-Swin uses 1.0). Defaults to None.
        lam (float): Exponent of the multiplicative ghost head; 0 disables it. Defaults to 1.
        gamma (float): Scale of the additive ghost head; 0 disables it. Defaults to 1.
        attn_drop (float): Dropout on the attention. Defaults to 0.
        proj_drop (float): Dropout after the output projection. Defaults to 0.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 kernel_size: int = 7,
                 dilation: int = 1,
                 dim_qk: Optional[int] = None,
                 dim_v: Optional[int] = None,
                 group_width: int = 8,
                 qkv_bias: bool = True,
                 qk_scale: Optional[float] = None,
                 lam: float = 1.,
                 gamma: float = 1.,
                 attn_drop: float = 0.,
                 proj_drop: float = 0.,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f'"kernel_size" must be a positive odd number, got {kernel_size}')
        if dilation < 1:
            raise ValueError(f'"dilation" must be >= 1, got {dilation}')
        if group_width < 1:
            raise ValueError(f'"group_width" must be >= 1, got {group_width}')
        dim_v = dim_v or embed_dims
        if num_heads < 1 or dim_v % num_heads != 0:
            raise ValueError(f'"num_heads" ({num_heads}) must be >= 1 and divide the value '
                             f'channels "dim_v" ({dim_v})')
        dim_qk = dim_qk or embed_dims // 3 * 2
        # The attention-generating conv is grouped by group_width channels.
        dim_qk = max(group_width, math.ceil(dim_qk / group_width) * group_width)
        if lam < 0:
            raise ValueError(f'"lam" must be >= 0, got {lam}')

        self.embed_dims = embed_dims
        self.num_heads = num_heads
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.dim_qk = dim_qk
        self.dim_v = dim_v
        self.group_width = group_width
        self.scale = qk_scale if qk_scale is not None else (dim_v // num_heads)**-0.5
        self.lam = lam
        self.gamma = gamma

        self.pre_proj = nn.Conv2d(embed_dims, dim_qk * 2 + dim_v, 1, bias=qkv_bias)
        self.attn = nn.Sequential(
            nn.Conv2d(dim_qk, dim_qk, kernel_size, padding=kernel_size // 2 * dilation,
                      dilation=dilation, groups=dim_qk // group_width),
            nn.GELU(),
            nn.Conv2d(dim_qk, kernel_size**2 * num_heads, 1))
        K = kernel_size**2
        # Ghost head: static per-channel filters that diversify the few attention heads.
        self.ghost_mul = nn.Parameter(torch.randn(dim_v, K)) if lam != 0 else None
        self.ghost_add = nn.Parameter(torch.zeros(dim_v, K)) if gamma != 0 else None
        if self.ghost_add is not None:
            trunc_normal_(self.ghost_add, std=.02)
        self.attn_drop = nn.Dropout(attn_drop)
        self.post_proj = nn.Linear(dim_v, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop)

    def ghost_filters(self) -> Tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
        """Return the effective ``(ghost_mul ** lam, gamma * ghost_add)``, each ``(G, Cg, k*k)``
        or None."""
        G = self.num_heads
        shape = (G, self.dim_v // G, self.kernel_size**2)
        mul = self.ghost_mul**self.lam if self.ghost_mul is not None else None
        add = self.ghost_add * self.gamma if self.ghost_add is not None else None
        return (mul.reshape(shape) if mul is not None else None,
                add.reshape(shape) if add is not None else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Forward.

        Args:
            x (Tensor): Input of shape ``(B, H, W, C)``.

        Returns:
            Tensor: Output of shape ``(B, H, W, C)``.
        """
        if x.dim() != 4 or x.shape[-1] != self.embed_dims:
            raise ValueError(f'ELSA expects (B, H, W, {self.embed_dims}) input, '
                             f'got {tuple(x.shape)}')
        B, H, W, _ = x.shape
        G, K = self.num_heads, self.kernel_size**2
        qkv = self.pre_proj(x.permute(0, 3, 1, 2))  # (B, 2*dim_qk + dim_v, H, W)
        q, k, v = torch.split(qkv, (self.dim_qk, self.dim_qk, self.dim_v), dim=1)
        attn = self.attn(q * k * self.scale)  # (B, G*K, H, W)
        # softmax over the k*k neighbours of each head (max-subtracted, safe in bf16/fp16)
        attn = attn.reshape(B, G, K, H, W).softmax(dim=2)
        attn = self.attn_drop(attn)
        v = v.reshape(B, G, self.dim_v // G, H, W)
        mul, add = self.ghost_filters()
        out = elsa_aggregate(v, attn.to(v.dtype), mul, add, self.kernel_size, self.dilation)
        out = self.post_proj(out.reshape(B, self.dim_v, H, W).permute(0, 2, 3, 1))
        return self.proj_drop(out)
