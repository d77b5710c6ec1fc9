import pytest
import torch

from mmext.ops import topk_mask, topk_softmax
import mmext.ops.topk_select as topk_select


def reference(x: torch.Tensor, k: int) -> torch.Tensor:
    """0 on the k largest entries of each row (torch.topk), -inf elsewhere."""
    index = x.topk(k, dim=-1).indices
    return torch.full_like(x, float('-inf')).scatter(-1, index, 0.)


def assert_valid_topk(x: torch.Tensor, mask: torch.Tensor, k: int):
    """Exactly k kept per row and no dropped value above a kept one (valid with ties)."""
    kept = mask == 0
    assert mask.shape == x.shape and mask.dtype == x.dtype
    assert ((mask == 0) | (mask == float('-inf'))).all()
    assert (kept.sum(-1) == k).all()
    inf = torch.tensor(float('inf'), dtype=x.dtype)
    assert (x.where(kept, inf).amin(-1) >= x.where(~kept, -inf).amax(-1)).all()


def test_kernel_builds_here():
    # The build machine has a compiler: the fast path must be the one tested below.
    assert topk_select._load_kernel() is not None


@pytest.mark.parametrize('shape,k', [((2, 3, 7, 9), 4), ((5, 197), 100), ((4, 31), 1),
                                     ((4, 31), 30), ((4, 31), 31), ((3, 1), 1),
                                     ((2, 2, 64, 300), 150)])
def test_matches_torch_topk(shape, k):
    x = torch.randn(shape)  # continuous values: no ties, the top-k set is unique
    assert torch.equal(topk_mask(x, k), reference(x, k))


def test_non_contiguous_input():
    x = torch.randn(6, 40, 5).transpose(1, 2)
    assert torch.equal(topk_mask(x, 7), reference(x, 7))


def test_ties_keep_exactly_k_lower_indices_first():
    x = torch.tensor([[1., 2., 2., 2., 0.], [3., 3., 3., 3., 3.], [0., 5., 5., 1., 1.]])
    mask = topk_mask(x, 2)
    assert_valid_topk(x, mask, 2)
    assert (mask == 0).nonzero().tolist() == [[0, 1], [0, 2], [1, 0], [1, 1], [2, 1], [2, 2]]
    # many ties from a coarse grid
    x = torch.randint(0, 4, (50, 33)).float()
    assert_valid_topk(x, topk_mask(x, 10), 10)


def test_nan_and_inf_rank_like_torch_topk():
    nan, inf = float('nan'), float('inf')
    x = torch.tensor([[nan, 1., 3., 2., 0.], [-inf, inf, 0., 1., -2.]])
    mask = topk_mask(x, 2)
    assert (mask == 0).nonzero().tolist() == [[0, 0], [0, 2], [1, 1], [1, 3]]


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16, torch.float64])
def test_other_dtypes(dtype):
    x = torch.randn(8, 77).to(dtype)
    mask = topk_mask(x, 20)
    assert_valid_topk(x, mask, 20)


def test_fallback_without_compiler_is_the_same(monkeypatch):
    x = torch.randn(3, 4, 50)
    fast = topk_mask(x, 13)
    monkeypatch.setattr(topk_select, '_load_kernel', lambda: None)
    assert torch.equal(topk_mask(x, 13), fast)


def test_build_failure_warns_and_falls_back(monkeypatch):
    import torch.utils.cpp_extension as cpp_extension

    def broken(**kwargs):
        raise RuntimeError('no compiler')

    monkeypatch.setattr(cpp_extension, 'load', broken)
    topk_select._load_kernel.cache_clear()
    try:
        with pytest.warns(UserWarning, match='falls back to torch.topk'):
            assert topk_select._load_kernel() is None
    finally:
        topk_select._load_kernel.cache_clear()


@pytest.mark.parametrize('k', [0, 10])
def test_bad_k(k):
    with pytest.raises(ValueError, match=r'k must be in \[1, 9\] for logits of shape \(2, 9\)'):
        topk_mask(torch.randn(2, 9), k)


@pytest.mark.parametrize('fast', [True, False])
def test_inplace(fast, monkeypatch):
    if not fast:
        monkeypatch.setattr(topk_select, '_load_kernel', lambda: None)
    x = torch.randn(4, 3, 21)
    expected = reference(x, 5)
    y = x.clone()
    assert torch.equal(topk_mask(y, 5), expected) and torch.equal(y, x)  # not touched
    out = topk_mask(y, 5, inplace=True)
    assert out.data_ptr() == y.data_ptr() and torch.equal(y, expected)


@pytest.mark.parametrize('shape,k', [((2, 3, 7, 9), 4), ((5, 197), 100), ((4, 31), 1),
                                     ((4, 31), 31)])
def test_topk_softmax_matches_masked_softmax(shape, k):
    x = torch.randn(shape, requires_grad=True)
    probs = topk_softmax(x, k)
    ref = (x + reference(x.detach(), k)).softmax(-1)
    torch.testing.assert_close(probs, ref)
    assert ((probs > 0).sum(-1) == k).all()
    grad = torch.randn(shape)
    torch.testing.assert_close(
        torch.autograd.grad(probs, x, grad)[0], torch.autograd.grad(ref, x, grad)[0])


def test_topk_softmax_ties_and_fallback(monkeypatch):
    x = torch.tensor([[1., 2., 2., 2., 0.]])
    assert torch.equal(topk_softmax(x, 2), torch.tensor([[0., .5, .5, 0., 0.]]))
    x = torch.randn(3, 40)
    fast = topk_softmax(x, 9)
    monkeypatch.setattr(topk_select, '_load_kernel', lambda: None)
    torch.testing.assert_close(topk_softmax(x, 9), fast)
    with pytest.raises(ValueError, match=r'k must be in \[1, 40\]'):
        topk_softmax(x, 41)
