# Copyright (c) mmext contributors. All rights reserved.
"""k-NN attention of KVT."""
import math
from typing import Optional, Union

import torch
import torch.nn.functional as F
from mmpretrain.models.utils import MultiheadAttention
from torch import Tensor

from mmext.ops import topk_cpu_kernel, topk_mask, topk_softmax
from mmext.registry import MODELS

__all__ = ['resolve_topk', 'knn_attention', 'KNNAttention']


def _check_topk(topk: Optional[Union[int, float]]) -> None:
    """Raise a ValueError naming ``topk`` when it is neither None, an int >= 1 nor a ratio."""
    if topk is None:
        return
    if isinstance(topk, bool) or not isinstance(topk, (int, float)):
        raise ValueError(f'"topk" must be None, an int >= 1 or a float ratio in (0, 1], '
                         f'got {topk!r}')
    if isinstance(topk, int) and topk < 1:
        raise ValueError(f'"topk" must be >= 1 when it is an int, got {topk}')
    if isinstance(topk, float) and not 0. < topk <= 1.:
        raise ValueError(f'"topk" must be in (0, 1] when it is a float ratio, got {topk}')


def resolve_topk(topk: Optional[Union[int, float]], num_keys: int) -> int:
    """Number of keys each query keeps, clipped to ``[1, num_keys]``.

    Args:
        topk (int | float | None): An absolute count (int), a fraction of the keys (float in
            ``(0, 1]``, rounded up) or None for all keys.
        num_keys (int): Number of keys ``N``.

    Returns:
        int: The effective ``k``.
    """
    _check_topk(topk)
    if topk is None:
        return num_keys
    if isinstance(topk, float):
        topk = math.ceil(topk * num_keys)
    return max(1, min(int(topk), num_keys))


def knn_attention(q: Tensor,
                  k: Tensor,
                  v: Tensor,
                  topk: Optional[Union[int, float]],
                  dropout_p: float = 0.,
                  scale: Optional[float] = None) -> Tensor:
    """Scaled dot-product attention where each query keeps only its ``topk`` largest logits.

    The other logits are set to ``-inf`` before the softmax. The selection is made without
    gradient (it is piecewise constant, as in the paper). On CPU the logits are computed once
    and :func:`mmext.ops.topk_softmax` (a compiled kernel) selects and normalises them in one
    pass; autograd keeps the ``N x N`` probabilities. Elsewhere (or without a compiler) the kept
    logits go through ``F.scaled_dot_product_attention`` with an additive ``0 / -inf`` mask, so
    the fused SDPA kernel does the softmax and backward and keeps no ``N x N`` tensor. With
    ``k >= N`` the call *is* dense attention (no mask at all). Exactly ``k`` keys are kept per
    query (ties at the threshold do not add keys).

    Args:
        q (Tensor): Queries ``(B, h, N, d)``.
        k (Tensor): Keys ``(B, h, M, d)``.
        v (Tensor): Values ``(B, h, M, d)``.
        topk (int | float | None): See :func:`resolve_topk`.
        dropout_p (float): Dropout on the attention weights. Defaults to 0.
        scale (float, optional): Softmax scale, ``d ** -0.5`` when None. Defaults to None.

    Returns:
        Tensor: ``(B, h, N, d)``.
    """
    num_keys = k.shape[-2]
    keep = resolve_topk(topk, num_keys)
    if keep >= num_keys:
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, scale=scale)
    if topk_cpu_kernel(q) is not None:
        # CPU: logits once, selection + softmax fused in the kernel, BLAS for the weighted sum;
        # faster than recomputing the logits in SDPA (see configs/kvt/README.md)
        scale = q.shape[-1]**-0.5 if scale is None else scale
        attn = topk_softmax((q * scale) @ k.transpose(-2, -1), keep)  # (B, h, N, M)
        if dropout_p > 0:
            attn = F.dropout(attn, dropout_p)
        return attn @ v
    with torch.no_grad():
        # The ranking does not depend on the (positive) scale, so it is left out here. A float
        # mask (not bool) keeps SDPA on its fused path.
        mask = topk_mask(q @ k.transpose(-2, -1), keep, inplace=True)  # (B, h, N, M)
    return F.scaled_dot_product_attention(
        q, k, v, attn_mask=mask.to(q.dtype), dropout_p=dropout_p, scale=scale)


@MODELS.register_module()
class KNNAttention(MultiheadAttention):
    """k-NN multi-head self-attention.

    From "KVT: k-NN Attention for Boosting Vision Transformers" (arXiv:2106.00515). Each query
    attends only to the ``topk`` keys with the highest dot-product similarity; the logits of the
    others are set to ``-inf`` before the softmax, which filters out noisy, weakly related
    tokens. ``topk >= N`` (or None) gives dense attention exactly.

    It subclasses mmpretrain's ``MultiheadAttention`` (same ``qkv`` / ``proj`` parameters, so
    mmpretrain-format DeiT checkpoints load unchanged; timm-layout files need
    ``tools/model_converters/kvt_to_mmext.py``) and only changes how the attention weights are
    formed.

    Args:
        embed_dims (int): Number of channels ``C``.
        num_heads (int): Number of heads.
        topk (int | float | None): Keys kept per query: an int count, a float ratio of the
            token count (rounded up), or None for all; clipped to the token count. Defaults to
            100 (the official KVT default for 197-token DeiT).
        **kwargs: The other arguments of mmpretrain ``MultiheadAttention`` (``attn_drop``,
            ``proj_drop``, ``dropout_layer``, ``qkv_bias``, ``qk_scale``, ``proj_bias``,
            ``layer_scale_init_value``, ``init_cfg``...). ``input_dims`` and ``v_shortcut``
            are not supported.

    Shape:
        Input and output: ``(B, N, C)``.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 topk: Optional[Union[int, float]] = 100,
                 qk_scale: Optional[float] = None,
                 **kwargs) -> None:
        _check_topk(topk)
        if embed_dims % num_heads != 0:
            raise ValueError(f'"embed_dims" ({embed_dims}) must be divisible by "num_heads" '
                             f'({num_heads})')
        for key in ('input_dims', 'v_shortcut'):
            if kwargs.get(key):
                raise ValueError(f'"{key}" is not supported by KNNAttention')
        super().__init__(embed_dims, num_heads, qk_scale=qk_scale, **kwargs)
        self.topk = topk
        self.qk_scale = qk_scale

    def forward(self, x: Tensor) -> Tensor:
        """Forward ``(B, N, C) -> (B, N, C)``."""
        B, N, C = x.shape
        if C != self.embed_dims:
            raise ValueError(f'expected {self.embed_dims} channels in the last dim of x, '
                             f'got shape {tuple(x.shape)}')
        # (B, N, 3C) -> (3, B, heads, N, head_dim)
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, self.head_dims).permute(2, 0, 3, 1, 4)
        attn_drop = self.attn_drop if self.training else 0.
        x = knn_attention(qkv[0], qkv[1], qkv[2], self.topk, attn_drop, self.qk_scale)
        x = x.transpose(1, 2).reshape(B, N, self.embed_dims)
        x = self.proj(x)
        return self.out_drop(self.gamma1(self.proj_drop(x)))
