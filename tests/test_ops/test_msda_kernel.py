import pytest
import torch

import mmext.ops.msda as msda_op
from mmext.models.layers.msda import multi_scale_dilated_attention


def _qkv(shape, dtype=torch.float32, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=gen, dtype=dtype).requires_grad_() for _ in range(3)]


def _run(qkv, *args, grad=None):
    out = multi_scale_dilated_attention(*qkv, *args)
    grad = torch.randn_like(out) if grad is None else grad
    return out, torch.autograd.grad(out, qkv, grad), grad


def test_kernel_builds_here():
    # The test machine has a compiler: the fused path must be the one tested below.
    assert msda_op._load_kernel() is not None


@pytest.mark.parametrize('shape,kernel_size,dilations,padding_mode', [
    ((2, 3, 3, 5, 7), 3, (1, 2, 3), 'zeros'),
    ((1, 2, 2, 4, 3), 3, (1, 4), 'mask'),  # dilation wider than the map
    ((1, 1, 2, 1, 2), 5, (2, ), 'zeros'),
    ((2, 2, 3, 6, 5), 5, (1, 2), 'mask'),
])
def test_gradcheck(shape, kernel_size, dilations, padding_mode):
    qkv = _qkv(shape, torch.float64)
    assert torch.autograd.gradcheck(
        lambda *t: multi_scale_dilated_attention(*t, kernel_size, dilations, padding_mode,
                                                 scale=0.7), qkv)


@pytest.mark.parametrize('shape,kernel_size,dilations,padding_mode', [
    ((2, 3, 24, 28, 28), 3, (1, 2, 3), 'zeros'),  # DilateFormer-T stage 2, batch 2
    ((1, 3, 24, 56, 56), 3, (1, 2, 3), 'mask'),  # stage 1
    ((2, 4, 5, 13, 11), 5, (3, 1), 'zeros'),  # odd sizes
])
def test_same_as_pytorch_path(shape, kernel_size, dilations, padding_mode, monkeypatch):
    qkv = _qkv(shape)
    args = (kernel_size, dilations, padding_mode, 0., False, 24**-0.5)  # softmax scale
    out, grads, g = _run(qkv, *args)
    monkeypatch.setattr(msda_op, '_load_kernel', lambda: None)
    ref, ref_grads, _ = _run(qkv, *args, grad=g)
    torch.testing.assert_close(out, ref)
    for a, b in zip(grads, ref_grads):
        torch.testing.assert_close(a, b)


def test_strided_and_half_inputs(monkeypatch):
    # the layer passes views of one (B, H, W, 3C) tensor; bf16 is computed in float32
    x = torch.randn(2, 5, 6, 3 * 2 * 4)
    q, k, v = x.permute(0, 3, 1, 2).reshape(2, 3, 2, 4, 5, 6).unbind(1)
    out = multi_scale_dilated_attention(q, k, v, 3, (1, 2))
    half = multi_scale_dilated_attention(q.bfloat16(), k.bfloat16(), v.bfloat16(), 3, (1, 2))
    monkeypatch.setattr(msda_op, '_load_kernel', lambda: None)
    torch.testing.assert_close(out, multi_scale_dilated_attention(q, k, v, 3, (1, 2)))
    assert half.dtype == torch.bfloat16
    torch.testing.assert_close(half.float(), out, atol=3e-2, rtol=3e-2)


def test_no_compiler_warns_and_falls_back(monkeypatch):
    import torch.utils.cpp_extension as cpp_extension

    qkv = _qkv((1, 2, 3, 4, 5))
    fused = multi_scale_dilated_attention(*qkv, 3, (1, 2))

    def broken(**kwargs):
        raise RuntimeError('no compiler')

    monkeypatch.setattr(cpp_extension, 'load', broken)
    msda_op._load_kernel.cache_clear()
    try:
        with pytest.warns(UserWarning, match='MSDA falls back to its PyTorch'):
            out = multi_scale_dilated_attention(*qkv, 3, (1, 2))
    finally:
        msda_op._load_kernel.cache_clear()
    torch.testing.assert_close(out, fused)
