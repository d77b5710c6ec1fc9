# Copyright (c) mmext contributors. All rights reserved.
from typing import Sequence

import pytest
import torch
import torch.nn.functional as F

from mmext.models.layers.msda import (MultiScaleDilatedAttention, dilated_neighbourhood_attention,
                                      multi_scale_dilated_attention)

# sibling module of this file (pytest puts this folder on sys.path)
from _attention_checks import check_matches_reference


def msda_reference(q: torch.Tensor,
                   k: torch.Tensor,
                   v: torch.Tensor,
                   kernel_size: int = 3,
                   dilations: Sequence[int] = (1, 2, 3),
                   padding_mode: str = 'zeros') -> torch.Tensor:
    """Deliberately simple MSDA: gather every neighbourhood with ``F.unfold`` (zero padding).

    q, k, v: ``(B, heads, d, H, W)``, q already scaled; heads split into ``len(dilations)``
    equal groups. ``padding_mode='mask'`` drops the unfolded positions that came from padding
    (found by unfolding a map of ones); ``'zeros'`` keeps them as zero keys / values.
    """
    B, heads, d, H, W = q.shape
    hg = heads // len(dilations)
    K = kernel_size**2
    outs = []
    for g, r in enumerate(dilations):
        group = slice(g * hg, (g + 1) * hg)
        pad = r * (kernel_size - 1) // 2

        def gather(t):
            # (B, hg, d, H, W) -> (B, hg, N, K, d): the K neighbours of every position
            cols = F.unfold(t[:, group].reshape(B, hg * d, H, W), kernel_size, r, pad)
            return cols.reshape(B, hg, d, K, H * W).permute(0, 1, 4, 3, 2)

        qg = q[:, group].reshape(B, hg, d, H * W).permute(0, 1, 3, 2).unsqueeze(3)  # (B,hg,N,1,d)
        logits = qg @ gather(k).transpose(-1, -2)  # (B, hg, N, 1, K)
        if padding_mode == 'mask':
            inside = F.unfold(q.new_ones(1, 1, H, W), kernel_size, r, pad)  # (1, K, N)
            logits = logits.masked_fill(inside.transpose(1, 2).reshape(1, 1, H * W, 1, K) == 0,
                                        float('-inf'))
        out = logits.softmax(-1) @ gather(v)  # (B, hg, N, 1, d)
        outs.append(out.squeeze(3).permute(0, 1, 3, 2).reshape(B, hg, d, H, W))
    return torch.cat(outs, dim=1)


def _qkv(shape, seed=0, requires_grad=False):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=gen).requires_grad_(requires_grad) for _ in range(3)]


@pytest.mark.parametrize('padding_mode', ['zeros', 'mask'])
@pytest.mark.parametrize('shape,kernel_size,dilations', [
    ((2, 3, 4, 7, 9), 3, (1, 2, 3)),   # odd sizes
    ((1, 6, 5, 4, 3), 3, (1, 2, 3)),   # map smaller than the dilated window
    ((2, 2, 3, 11, 6), 5, (2, 1)),     # bigger kernel, other dilation order
    ((1, 3, 2, 1, 1), 3, (1, 2, 3)),   # single position
])
def test_msda_matches_unfold_reference(shape, kernel_size, dilations, padding_mode):
    q, k, v = _qkv(shape, requires_grad=True)
    # outputs and the gradients of the shift-based version match the unfold one
    check_matches_reference(
        lambda *qkv: multi_scale_dilated_attention(*qkv, kernel_size, dilations, padding_mode),
        lambda *qkv: msda_reference(*qkv, kernel_size, dilations, padding_mode), q, k, v)


def test_padding_semantics_by_hand():
    # A 1x1 map: all 8 neighbours are padding. 'mask' attends to the centre only -> out == v;
    # 'zeros' with q == 0 gives uniform weights over 9 positions, 8 of them zero values -> v / 9.
    v = torch.randn(1, 1, 4, 1, 1)
    q = torch.zeros_like(v)
    k = torch.randn_like(v)
    torch.testing.assert_close(dilated_neighbourhood_attention(q, k, v, padding_mode='mask'), v)
    torch.testing.assert_close(dilated_neighbourhood_attention(q, k, v, padding_mode='zeros'),
                               v / 9)


@pytest.mark.parametrize('padding_mode', ['zeros', 'mask'])
def test_gradcheck_float64(padding_mode):
    # The hand-written backward against finite differences.
    q, k, v = [t.double().requires_grad_() for t in _qkv((1, 2, 2, 4, 3), seed=1)]
    assert torch.autograd.gradcheck(
        lambda a, b, c: multi_scale_dilated_attention(a, b, c, 3, (1, 2), padding_mode),
        (q, k, v))


def test_module_matches_reference_and_backward():
    torch.manual_seed(0)
    attn = MultiScaleDilatedAttention(embed_dims=12, num_heads=6, dilations=(1, 2, 3))
    x = torch.randn(2, 7, 5, 12, requires_grad=True)
    out = attn(x)
    assert out.shape == x.shape

    B, H, W, C = x.shape
    qkv = F.linear(x, attn.qkv.weight, attn.qkv.bias).permute(0, 3, 1, 2)
    q, k, v = qkv.reshape(B, 3, 6, 2, H, W).unbind(1)
    ref = msda_reference(q * attn.scale, k, v, 3, (1, 2, 3)).reshape(B, C, H, W)
    ref = F.linear(ref.permute(0, 2, 3, 1), attn.proj.weight, attn.proj.bias)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)

    out.sum().backward()  # the official code crashes here (in-place write into a saved tensor)
    for name, p in attn.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert x.grad is not None


def test_module_autocast_bfloat16():
    attn = MultiScaleDilatedAttention(embed_dims=12, num_heads=3)
    x = torch.randn(1, 6, 6, 12)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = attn(x)
    assert out.dtype == torch.bfloat16 and torch.isfinite(out).all()
    torch.testing.assert_close(out.float(), attn(x), atol=5e-2, rtol=5e-2)


@pytest.mark.parametrize('kwargs,match', [
    (dict(embed_dims=12, num_heads=4), 'multiple of the number of "dilations"'),
    (dict(embed_dims=10, num_heads=3), 'divisible by "num_heads"'),
    (dict(embed_dims=12, num_heads=3, kernel_size=4), '"kernel_size" must be a positive odd'),
    (dict(embed_dims=12, num_heads=3, dilations=(1, 0, 2)), '"dilations" must be positive'),
    (dict(embed_dims=12, num_heads=3, padding_mode='reflect'), '"padding_mode" must be one of'),
])
def test_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MultiScaleDilatedAttention(**kwargs)


def test_bad_input_shape():
    attn = MultiScaleDilatedAttention(embed_dims=12, num_heads=3)
    with pytest.raises(ValueError, match='expected 12 channels'):
        attn(torch.randn(1, 12, 4, 4))


def test_attention_dropout_path_trains():
    # Dropout on the weights goes through plain autograd (its mask is needed in backward).
    q, k, v = _qkv((1, 3, 4, 6, 5), requires_grad=True)
    torch.manual_seed(0)
    out = multi_scale_dilated_attention(q, k, v, dropout_p=0.5, training=True)
    assert not torch.allclose(out, multi_scale_dilated_attention(q, k, v))
    out.sum().backward()
    assert all(t.grad is not None and torch.isfinite(t.grad).all() for t in (q, k, v))
