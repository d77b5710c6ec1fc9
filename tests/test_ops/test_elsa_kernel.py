import pytest
import torch

import mmext.ops.elsa as elsa_op
from mmext.models.layers.elsa import elsa_aggregate


def _inputs(B, G, C, H, W, k, ghosts, dtype=torch.float32, seed=0):
    gen = torch.Generator().manual_seed(seed)
    v = torch.randn(B, G, C, H, W, generator=gen, dtype=dtype)
    attn = torch.randn(B, G, k * k, H, W, generator=gen, dtype=dtype).softmax(2)
    mul, add = (torch.randn(G, C, k * k, generator=gen, dtype=dtype) if use else None
                for use in ghosts)
    return [t.requires_grad_() if t is not None else None for t in (v, attn, mul, add)]


def _run(inputs, k, dilation, grad=None):
    out = elsa_aggregate(*inputs, k, dilation)
    leaves = [t for t in inputs if t is not None]
    grad = torch.randn_like(out) if grad is None else grad
    return out, torch.autograd.grad(out, leaves, grad), grad


def test_kernel_builds_here():
    assert elsa_op._load_kernel() is not None


@pytest.mark.parametrize('size,k,dilation,ghosts', [
    ((2, 2, 3, 5, 4), 3, 1, (True, True)),
    ((1, 1, 2, 4, 5), 5, 2, (True, False)),
    ((1, 2, 2, 2, 1), 3, 3, (False, True)),  # dilated window wider than the map
    ((2, 1, 2, 3, 3), 3, 1, (False, False)),
])
def test_gradcheck(size, k, dilation, ghosts):
    inputs = _inputs(*size, k, ghosts, torch.float64)
    leaves = [t for t in inputs if t is not None]

    def fn(*leaves):
        it = iter(leaves)
        return elsa_aggregate(*(next(it) if t is not None else None for t in inputs), k,
                              dilation)

    assert torch.autograd.gradcheck(fn, leaves)


@pytest.mark.parametrize('size,k,dilation,ghosts', [
    ((2, 3, 32, 28, 28), 7, 1, (False, True)),  # ELSA-Swin-T stage 2 layout, batch 2
    ((1, 2, 8, 13, 11), 5, 2, (True, True)),  # odd sizes
    ((2, 2, 4, 9, 7), 3, 1, (True, False)),
])
def test_same_as_pytorch_path(size, k, dilation, ghosts, monkeypatch):
    inputs = _inputs(*size, k, ghosts)
    out, grads, g = _run(inputs, k, dilation)
    monkeypatch.setattr(elsa_op, '_load_kernel', lambda: None)
    ref, ref_grads, _ = _run(inputs, k, dilation, grad=g)
    torch.testing.assert_close(out, ref)
    for a, b in zip(grads, ref_grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_half_inputs_computed_in_float32():
    v, attn, _, add = _inputs(1, 2, 4, 6, 5, 3, (False, True))
    out = elsa_aggregate(v, attn, None, add, 3, 1)
    half = elsa_aggregate(v.bfloat16(), attn.bfloat16(), None, add.bfloat16(), 3, 1)
    assert half.dtype == torch.bfloat16
    torch.testing.assert_close(half.float(), out, atol=3e-2, rtol=3e-2)


def test_no_compiler_warns_and_falls_back(monkeypatch):
    import torch.utils.cpp_extension as cpp_extension

    inputs = _inputs(1, 2, 3, 4, 5, 3, (True, True))
    fused = elsa_aggregate(*inputs, 3, 1)

    def broken(**kwargs):
        raise RuntimeError('no compiler')

    monkeypatch.setattr(cpp_extension, 'load', broken)
    elsa_op._load_kernel.cache_clear()
    try:
        with pytest.warns(UserWarning, match='ELSA falls back to its PyTorch'):
            out = elsa_aggregate(*inputs, 3, 1)
    finally:
        elsa_op._load_kernel.cache_clear()
    torch.testing.assert_close(out, fused)
