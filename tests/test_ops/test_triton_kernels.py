"""The Triton kernels run on CPU in Triton's interpreter (``TRITON_INTERPRET=1``) and must
match the PyTorch paths of the layers, outputs and gradients, in float32 and bfloat16."""
import importlib.util
import sys
from pathlib import Path

import pytest
import torch

import mmext.ops.elsa as elsa_op
import mmext.ops.msda as msda_op
from mmext.models.layers.elsa import elsa_aggregate
from mmext.models.layers.msda import multi_scale_dilated_attention

pytest.importorskip('triton')


def interpreted(name, monkeypatch):
    """A fresh copy of ``mmext/ops/<name>.py`` whose kernels the interpreter runs (the switch
    is read when a kernel is decorated)."""
    monkeypatch.setenv('TRITON_INTERPRET', '1')
    # the shared jit helpers are re-imported under the switch too
    monkeypatch.delitem(sys.modules, 'mmext.ops.triton_utils', raising=False)
    path = Path(msda_op.__file__).with_name(f'{name}.py')
    spec = importlib.util.spec_from_file_location(f'_interpreted_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _grads(fn, inputs, grad):
    out = fn(*inputs)
    leaves = [t for t in inputs if t is not None]
    return [out] + list(torch.autograd.grad(out, leaves, grad.to(out.dtype)))


def _assert_close(got, want, dtype):
    tol = dict(atol=1e-5, rtol=1e-4) if dtype == torch.float32 else dict(atol=5e-2, rtol=5e-2)
    for a, b in zip(got, want):
        assert a.dtype == dtype
        torch.testing.assert_close(a.float(), b.float(), **tol)


@pytest.mark.parametrize('dtype', [torch.float32, torch.bfloat16])
@pytest.mark.parametrize('shape,kernel_size,dilations,padding_mode', [
    ((1, 2, 3, 5, 7), 3, (1, 3), 'zeros'),
    ((2, 1, 5, 4, 3), 5, (2, ), 'mask'),  # odd channels, window wider than the map
])
def test_msda(shape, kernel_size, dilations, padding_mode, dtype, monkeypatch):
    triton_msda = interpreted('msda_triton', monkeypatch).triton_msda
    gen = torch.Generator().manual_seed(0)
    qkv = [torch.randn(shape, generator=gen).to(dtype).requires_grad_() for _ in range(3)]
    grad = torch.randn(shape, generator=gen)
    args = (kernel_size, dilations, padding_mode)
    got = _grads(lambda *t: triton_msda(*t, *args), qkv, grad)
    monkeypatch.setattr(msda_op, '_load_kernel', lambda: None)  # the PyTorch path
    want = _grads(lambda *t: multi_scale_dilated_attention(*t, *args), qkv, grad)
    _assert_close(got, want, dtype)


@pytest.mark.parametrize('dtype', [torch.float32, torch.bfloat16])
@pytest.mark.parametrize('size,kernel_size,dilation,ghosts', [
    ((2, 2, 3, 5, 4), 3, 1, (True, True)),
    ((1, 1, 5, 3, 6), 5, 2, (False, True)),  # dilated window wider than the map
])
def test_elsa(size, kernel_size, dilation, ghosts, dtype, monkeypatch):
    triton_elsa = interpreted('elsa_triton', monkeypatch).triton_elsa_aggregate
    gen = torch.Generator().manual_seed(0)
    B, G, C, H, W = size
    K = kernel_size**2
    v = torch.randn(size, generator=gen)
    attn = torch.randn(B, G, K, H, W, generator=gen).softmax(2)
    mul, add = (torch.randn(G, C, K, generator=gen) if use else None for use in ghosts)
    inputs = [t.to(dtype).requires_grad_() if t is not None else None
              for t in (v, attn, mul, add)]
    grad = torch.randn(size, generator=gen)
    got = _grads(lambda *t: triton_elsa(*t, kernel_size, dilation), inputs, grad)
    monkeypatch.setattr(elsa_op, '_load_kernel', lambda: None)
    want = _grads(lambda *t: elsa_aggregate(*t, kernel_size, dilation), inputs, grad)
    _assert_close(got, want, dtype)
