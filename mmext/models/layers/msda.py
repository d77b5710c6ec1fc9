# Copyright (c) mmext contributors. All rights reserved.
"""Multi-Scale Dilated Attention (MSDA) of DilateFormer."""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor
from torch.autograd.function import once_differentiable

from mmext.ops.cpp_build import triton_op
from mmext.ops.msda import fused_msda, msda_cpu_kernel
from mmext.registry import MODELS

__all__ = [
    'dilated_neighbourhood_attention', 'multi_scale_dilated_attention',
    'MultiScaleDilatedAttention'
]

_PADDING_MODES = ('zeros', 'mask')


def _shift(offset: int, size: int) -> Tuple[slice, slice]:
    """Positions ``p`` whose neighbour ``p + offset`` lies in ``[0, size)``, and the neighbours."""
    lo, hi = max(0, -offset), min(size, size - offset)
    return slice(lo, max(lo, hi)), slice(lo + offset, max(lo, hi) + offset)


def _neighbourhood(kernel_size: int, dilation: int, H: int,
                   W: int) -> List[Tuple[int, Tuple[slice, slice], Tuple[slice, slice]]]:
    """For each of the ``k*k`` offsets (row-major): its index, the query region and the
    matching key region (both ``(rows, cols)`` slices; empty when the offset leaves the map)."""
    half = (kernel_size - 1) // 2
    out = []
    for t in range(kernel_size**2):
        qy, ky = _shift((t // kernel_size - half) * dilation, H)
        qx, kx = _shift((t % kernel_size - half) * dilation, W)
        out.append((t, (qy, qx), (ky, kx)))
    return out


def _check_qkv(q: Tensor, k: Tensor, v: Tensor, groups: int, padding_mode: str) -> None:
    if q.dim() != 5 or q.shape != k.shape or q.shape != v.shape or q.shape[1] % groups:
        raise ValueError('q, k, v must share one shape (B, heads, head_dim, H, W) with heads a '
                         f'multiple of len(dilations)={groups}, got {tuple(q.shape)}, '
                         f'{tuple(k.shape)}, {tuple(v.shape)}')
    if padding_mode not in _PADDING_MODES:
        raise ValueError(f'"padding_mode" must be one of {_PADDING_MODES}, got {padding_mode!r}')


def _msda_forward(q: Tensor, k: Tensor, v: Tensor, kernel_size: int, dilations: Sequence[int],
                  padding_mode: str, dropout_p: float = 0.) -> Tuple[Tensor, Tensor]:
    """Output ``(B, heads, d, H, W)`` and attention weights ``(B, heads, k*k, H, W)``.

    Neighbours are read as shifted sub-rectangles of K / V (views), never gathered or padded:
    an offset that leaves the map simply has no key there, i.e. logit 0 with a zero value
    ('zeros') or logit -inf ('mask').
    """
    B, heads, d, H, W = q.shape
    hg = heads // len(dilations)
    # Logits are reduced in (at least) fp32 so that bf16 / fp16 inputs (AMP) keep a stable
    # softmax.
    acc_dtype = torch.promote_types(q.dtype, torch.float32)
    fill = float('-inf') if padding_mode == 'mask' else 0.
    logits = q.new_full((B, heads, kernel_size**2, H, W), fill, dtype=acc_dtype)
    for g, dilation in enumerate(dilations):
        h = slice(g * hg, (g + 1) * hg)
        for t, (qy, qx), (ky, kx) in _neighbourhood(kernel_size, dilation, H, W):
            # (B, hg, d, h', w') -> (B, hg, h', w'): written into a fresh tensor nobody saved
            logits[:, h, t, qy, qx] = (q[:, h, :, qy, qx] * k[:, h, :, ky, kx]).sum(
                2, dtype=acc_dtype)
    attn = logits.softmax(dim=2)
    weights = F.dropout(attn, dropout_p, True) if dropout_p > 0 else attn
    out = torch.zeros_like(q, dtype=acc_dtype)
    for g, dilation in enumerate(dilations):
        h = slice(g * hg, (g + 1) * hg)
        for t, (qy, qx), (ky, kx) in _neighbourhood(kernel_size, dilation, H, W):
            # (B, hg, 1, h', w') * (B, hg, d, h', w')
            out[:, h, :, qy, qx] += weights[:, h, t:t + 1, qy, qx] * v[:, h, :, ky, kx]
    return out.to(v.dtype), attn


class _MultiScaleDilatedAttention(torch.autograd.Function):
    """MSDA with a hand-written backward.

    Forward keeps only Q, K, V (which the caller holds anyway) and the ``k*k`` attention
    weights per query. Backward accumulates every offset's contribution into one gradient
    buffer per input, created here. Autograd through the plain ops would instead keep a
    gradient-sized temporary per offset and per head group.
    """

    @staticmethod
    def forward(ctx, q: Tensor, k: Tensor, v: Tensor, kernel_size: int,
                dilations: Tuple[int, ...], padding_mode: str) -> Tensor:
        out, attn = _msda_forward(q, k, v, kernel_size, dilations, padding_mode)
        ctx.save_for_backward(q, k, v, attn)
        ctx.kernel_size, ctx.dilations = kernel_size, dilations
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor):
        q, k, v, attn = ctx.saved_tensors
        H, W = q.shape[-2:]
        hg = q.shape[1] // len(ctx.dilations)
        acc = attn.dtype
        grad_out = grad_out.to(acc)
        groups = [(slice(g * hg, (g + 1) * hg), _neighbourhood(ctx.kernel_size, r, H, W))
                  for g, r in enumerate(ctx.dilations)]
        # d out / d attn_t = <grad_out, v_t>: (B, heads, k*k, H, W); 0 where no key exists
        grad_attn = torch.zeros_like(attn)
        for h, offsets in groups:
            for t, (qy, qx), (ky, kx) in offsets:
                grad_attn[:, h, t, qy, qx] = (grad_out[:, h, :, qy, qx] *
                                              v[:, h, :, ky, kx]).sum(2, dtype=acc)
        # softmax backward, in place on our own buffer to keep the peak low (masked positions
        # have attn == 0 and get no gradient)
        grad_logits = grad_attn.sub_((attn * grad_attn).sum(2, keepdim=True)).mul_(attn)
        grad_q = torch.zeros_like(q, dtype=acc)
        grad_k = torch.zeros_like(k, dtype=acc)
        grad_v = torch.zeros_like(v, dtype=acc)
        for h, offsets in groups:
            for t, (qy, qx), (ky, kx) in offsets:
                # In-place accumulation into the buffers created above (nothing saved).
                grad_q[:, h, :, qy, qx].addcmul_(grad_logits[:, h, t:t + 1, qy, qx],
                                                 k[:, h, :, ky, kx])
                grad_k[:, h, :, ky, kx].addcmul_(grad_logits[:, h, t:t + 1, qy, qx],
                                                 q[:, h, :, qy, qx])
                grad_v[:, h, :, ky, kx].addcmul_(attn[:, h, t:t + 1, qy, qx],
                                                 grad_out[:, h, :, qy, qx])
        return (grad_q.to(q.dtype), grad_k.to(k.dtype), grad_v.to(v.dtype), None, None, None)


def multi_scale_dilated_attention(q: Tensor,
                                  k: Tensor,
                                  v: Tensor,
                                  kernel_size: int = 3,
                                  dilations: Sequence[int] = (1, 2, 3),
                                  padding_mode: str = 'zeros',
                                  dropout_p: float = 0.,
                                  training: bool = False,
                                  scale: float = 1.) -> Tensor:
    """Sliding-window dilated attention, one dilation per group of heads.

    The heads are split into ``len(dilations)`` equal groups (group ``g`` = heads
    ``[g * heads / G, (g + 1) * heads / G)``). In group ``g`` the query at ``(y, x)`` attends to
    the keys at ``(y + i * r, x + j * r)``, ``i, j in [-(k - 1) / 2, (k - 1) / 2]``,
    ``r = dilations[g]``. Instead of gathering neighbourhoods with ``unfold`` (a ``k * k`` times
    larger copy of K and V that autograd keeps alive), every offset reads a shifted
    sub-rectangle (a view) of K / V, and a hand-written backward keeps only Q, K, V and the
    ``k * k`` attention weights per query (with attention dropout in training, plain autograd
    records the same ops instead, as the dropout mask is needed in backward). On CPU a compiled
    kernel (:mod:`mmext.ops.msda`) fuses the logits, softmax and weighted sum per output row
    and gives the same result several times faster, on CUDA Triton kernels
    (:mod:`mmext.ops.msda_triton`) do the same; this PyTorch code is their fallback (no
    compiler or Triton, other devices, attention dropout).

    Args:
        q (Tensor): Queries ``(B, heads, d, H, W)``.
        k (Tensor): Keys, same shape.
        v (Tensor): Values, same shape.
        kernel_size (int): Odd side ``k`` of the neighbourhood. Defaults to 3.
        dilations (Sequence[int]): Dilation of each head group. Defaults to (1, 2, 3).
        padding_mode (str): What happens to neighbours that fall outside the feature map.
            ``'zeros'``: they are zero keys / zero values that *take part* in the softmax (logit
            0, contribute nothing to the output), the behaviour of the official code, which
            zero-pads with ``nn.Unfold``, so its checkpoints keep their meaning. ``'mask'``:
            they are removed from the softmax (logit ``-inf``); the centre is always inside,
            so no row is fully masked. Defaults to ``'zeros'``.
        dropout_p (float): Dropout probability on the attention weights. Defaults to 0.
        training (bool): Apply dropout only when True. Defaults to False.
        scale (float): The logits are ``scale * <q, k>`` (the CPU kernel applies it inside, so
            no scaled copy of ``q`` is made). Defaults to 1.

    Returns:
        Tensor: ``(B, heads, d, H, W)`` in the dtype of ``v``.
    """
    dilations = tuple(dilations)
    _check_qkv(q, k, v, len(dilations), padding_mode)
    kernel = msda_cpu_kernel(q) if not (dropout_p > 0 and training) else None
    if kernel is not None:
        return fused_msda(kernel, q, k, v, scale, kernel_size, dilations, padding_mode)
    q = q * scale if scale != 1 else q
    if dropout_p > 0 and training:
        return _msda_forward(q, k, v, kernel_size, dilations, padding_mode, dropout_p)[0]
    fused_cuda = triton_op('msda_triton', 'triton_msda') if q.is_cuda else None
    if fused_cuda is not None:
        return fused_cuda(q, k, v, kernel_size, dilations, padding_mode)
    return _MultiScaleDilatedAttention.apply(q, k, v, kernel_size, dilations, padding_mode)


def dilated_neighbourhood_attention(q: Tensor,
                                    k: Tensor,
                                    v: Tensor,
                                    kernel_size: int = 3,
                                    dilation: int = 1,
                                    padding_mode: str = 'zeros',
                                    dropout_p: float = 0.,
                                    training: bool = False) -> Tensor:
    """Single-dilation case of :func:`multi_scale_dilated_attention` (all heads share
    ``dilation``); same arguments and shapes."""
    return multi_scale_dilated_attention(q, k, v, kernel_size, (dilation, ), padding_mode,
                                         dropout_p, training)


@MODELS.register_module()
class MultiScaleDilatedAttention(BaseModule):
    """Multi-Scale Dilated Attention (MSDA).

    From "DilateFormer: Multi-Scale Dilated Transformer for Visual Recognition"
    (arXiv:2302.01791). The heads are split into ``len(dilations)`` equal groups; every group runs
    sliding-window attention over a ``kernel_size x kernel_size`` neighbourhood with its own
    dilation, so one layer sees several receptive-field sizes at the cost of local attention. The
    groups' outputs are concatenated (in ``dilations`` order) and projected.

    Neighbours outside the feature map are zero padding; with ``padding_mode='zeros'`` (default,
    as in the official code) they stay in the softmax as zero keys / values, with ``'mask'`` they
    are excluded. Any ``H x W`` works, including maps smaller than the dilated window.

    Args:
        embed_dims (int): Number of input / output channels ``C``.
        num_heads (int): Number of heads; must be divisible by ``len(dilations)`` and divide
            ``embed_dims``.
        kernel_size (int): Odd side of the neighbourhood. Defaults to 3.
        dilations (Sequence[int]): One dilation per head group. Defaults to (1, 2, 3).
        qkv_bias (bool): Bias in the QKV projection. Defaults to True.
        qk_scale (float, optional): Softmax scale; ``head_dim ** -0.5`` when None.
            Defaults to None.
        attn_drop (float): Dropout on the attention weights. Defaults to 0.
        proj_drop (float): Dropout after the output projection. Defaults to 0.
        padding_mode (str): ``'zeros'`` or ``'mask'``, see above. Defaults to ``'zeros'``.
        init_cfg (dict, optional): Initialization config. Defaults to None.

    Shape:
        Input and output: ``(B, H, W, C)`` (channels last, like the LayerNorm before it).
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 kernel_size: int = 3,
                 dilations: Sequence[int] = (1, 2, 3),
                 qkv_bias: bool = True,
                 qk_scale: Optional[float] = None,
                 attn_drop: float = 0.,
                 proj_drop: float = 0.,
                 padding_mode: str = 'zeros',
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        dilations = tuple(dilations)
        if embed_dims % num_heads != 0:
            raise ValueError(f'"embed_dims" ({embed_dims}) must be divisible by "num_heads" '
                             f'({num_heads})')
        if len(dilations) == 0 or num_heads % len(dilations) != 0:
            raise ValueError(f'"num_heads" ({num_heads}) must be a multiple of the number of '
                             f'"dilations" {dilations}')
        if any(not isinstance(r, int) or r < 1 for r in dilations):
            raise ValueError(f'"dilations" must be positive ints, got {dilations}')
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f'"kernel_size" must be a positive odd int, got {kernel_size}')
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f'"padding_mode" must be one of {_PADDING_MODES}, '
                             f'got {padding_mode!r}')
        self.embed_dims = embed_dims
        self.num_heads = num_heads
        self.head_dims = embed_dims // num_heads
        self.kernel_size = kernel_size
        self.dilations = dilations
        self.padding_mode = padding_mode
        self.scale = qk_scale or self.head_dims**-0.5
        self.attn_drop = attn_drop

        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop)

    def init_weights(self) -> None:
        """Give ``qkv`` PyTorch's default init, as the official 1x1 ``Conv2d`` has (the same
        distribution as a default ``nn.Linear``), after the enclosing backbone's truncated-normal
        init of all linears (submodules are initialised after their parent's ``init_cfg``)."""
        super().init_weights()
        if self.init_cfg is None:
            self.qkv.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        """Forward ``(B, H, W, C) -> (B, H, W, C)``."""
        B, H, W, C = x.shape
        if C != self.embed_dims:
            raise ValueError(f'expected {self.embed_dims} channels in the last dim of x, '
                             f'got shape {tuple(x.shape)}')
        # (B, H, W, 3C) -> (B, 3C, H, W) -> 3 x (B, heads, head_dim, H, W); channel order
        # (qkv, group, head, head_dim) as in the official code, so its weights keep meaning.
        qkv = self.qkv(x).permute(0, 3, 1, 2).reshape(B, 3, self.num_heads, self.head_dims, H, W)
        q, k, v = qkv.unbind(1)
        x = multi_scale_dilated_attention(q, k, v, self.kernel_size, self.dilations,
                                          self.padding_mode, self.attn_drop, self.training,
                                          self.scale)
        # (B, heads, d, H, W) -> (B, C, H, W) -> (B, H, W, C)
        x = x.reshape(B, C, H, W).permute(0, 2, 3, 1)
        return self.proj_drop(self.proj(x))
