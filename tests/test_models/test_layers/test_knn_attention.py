# Copyright (c) mmext contributors. All rights reserved.
import math

import pytest
import torch
import torch.nn.functional as F
from mmpretrain.models.utils import MultiheadAttention

from mmext.models.layers.knn_attention import KNNAttention, knn_attention, resolve_topk

# sibling module of this file (pytest puts this folder on sys.path)
from _attention_checks import check_matches_reference


def knn_reference(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, topk) -> torch.Tensor:
    """Deliberately simple k-NN attention: an explicit loop builds the keep-mask per query.

    q, k, v: ``(B, h, N, d)``. ``topk``: int count, float ratio (rounded up) or None; clipped
    to ``N``. The logits outside each query's ``topk`` largest are set to ``-inf``.
    """
    B, h, N, d = q.shape
    if topk is None:
        keep = N
    elif isinstance(topk, float):
        keep = math.ceil(topk * N)
    else:
        keep = topk
    keep = max(1, min(keep, N))
    logits = (q @ k.transpose(-2, -1)) / math.sqrt(d)
    mask = torch.zeros(B, h, N, N, dtype=torch.bool)
    for b in range(B):
        for head in range(h):
            for i in range(N):
                order = torch.argsort(logits[b, head, i].detach(), descending=True)
                mask[b, head, i, order[:keep]] = True
    return logits.masked_fill(~mask, float('-inf')).softmax(-1) @ v


def _qkv(shape, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=gen).requires_grad_() for _ in range(3)]


@pytest.mark.parametrize('N', [7, 50])
@pytest.mark.parametrize('topk', [1, 3, 0.25, 0.999, -1, 'N', 'N+5', None])
def test_knn_matches_reference(N, topk):
    topk = {'N': N, 'N+5': N + 5, -1: N - 1}.get(topk, topk)
    q, k, v = _qkv((2, 3, N, 8))
    check_matches_reference(lambda *qkv: knn_attention(*qkv, topk),
                            lambda *qkv: knn_reference(*qkv, topk), q, k, v)


def test_k_at_least_n_is_exactly_dense():
    q, k, v = _qkv((2, 2, 10, 4))
    dense = F.scaled_dot_product_attention(q, k, v)
    assert torch.equal(knn_attention(q, k, v, 10), dense)
    assert torch.equal(knn_attention(q, k, v, 1000), dense)
    assert torch.equal(knn_attention(q, k, v, 1.0), dense)


def test_topk_one_copies_best_value():
    # With k = 1 every query returns the value of its most similar key.
    q, k, v = [t.detach() for t in _qkv((1, 1, 6, 4))]
    best = (q @ k.transpose(-2, -1)).argmax(-1)[0, 0]
    torch.testing.assert_close(knn_attention(q, k, v, 1)[0, 0], v[0, 0, best])


def test_resolve_topk():
    assert resolve_topk(None, 9) == 9
    assert resolve_topk(4, 9) == 4
    assert resolve_topk(40, 9) == 9  # clipped to N
    assert resolve_topk(0.5, 9) == 5  # ratio rounded up
    assert resolve_topk(0.01, 9) == 1


@pytest.mark.parametrize('topk,match', [
    (0, '"topk" must be >= 1'),
    (-3, '"topk" must be >= 1'),
    (1.5, r'"topk" must be in \(0, 1\]'),
    (0., r'"topk" must be in \(0, 1\]'),
    (True, '"topk" must be None, an int'),
    ('10', '"topk" must be None, an int'),
])
def test_bad_topk(topk, match):
    with pytest.raises(ValueError, match=match):
        KNNAttention(embed_dims=8, num_heads=2, topk=topk)


def test_module_matches_reference_and_backward():
    torch.manual_seed(0)
    attn = KNNAttention(embed_dims=16, num_heads=4, topk=5)
    x = torch.randn(2, 11, 16)
    out = attn(x)
    B, N, C = x.shape
    q, k, v = F.linear(x, attn.qkv.weight, attn.qkv.bias).reshape(B, N, 3, 4, 4).permute(
        2, 0, 3, 1, 4)
    ref = knn_reference(q, k, v, 5).transpose(1, 2).reshape(B, N, C)
    ref = F.linear(ref, attn.proj.weight, attn.proj.bias)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    out.sum().backward()
    for name, p in attn.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_dense_module_equals_mmpretrain_attention():
    # topk=None is the DeiT attention: same parameters, same output.
    torch.manual_seed(0)
    ours = KNNAttention(embed_dims=16, num_heads=4, topk=None)
    host = MultiheadAttention(embed_dims=16, num_heads=4)
    host.load_state_dict(ours.state_dict())
    x = torch.randn(2, 9, 16)
    torch.testing.assert_close(ours(x), host(x))


def test_module_autocast_bfloat16():
    attn = KNNAttention(embed_dims=16, num_heads=2, topk=4)
    x = torch.randn(2, 12, 16)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = attn(x)
    assert out.dtype == torch.bfloat16 and torch.isfinite(out).all()


def test_cpu_kernel_path_equals_masked_sdpa_path(monkeypatch):
    # DeiT-S heads at 197 tokens with the official k=100: logits + fused top-k softmax
    # (CPU kernel) against the masked-SDPA path used elsewhere.
    import mmext.ops.topk_select as topk_select
    q, k, v = _qkv((2, 6, 197, 64))
    grad = torch.randn(2, 6, 197, 64)
    out = knn_attention(q, k, v, 100)
    grads = torch.autograd.grad(out, (q, k, v), grad)
    monkeypatch.setattr(topk_select, '_load_kernel', lambda: None)
    ref = knn_attention(q, k, v, 100)
    torch.testing.assert_close(out, ref)
    for a, b in zip(grads, torch.autograd.grad(ref, (q, k, v), grad)):
        torch.testing.assert_close(a, b)
