"""The Triton kernels run on CPU in Triton's interpreter and must match the PyTorch paths of
the layers, outputs and gradients, in float32 and bfloat16.

``TRITON_INTERPRET=1`` must be set before Triton is imported (its own library functions are
decorated then), so ``test_kernels_in_interpreter`` runs the ``test_case_*`` tests of this file
in a fresh process with the switch set; in the normal run they are skipped.
"""
import os
import subprocess
import sys

import pytest
import torch

import mmext.ops.elsa as elsa_op
import mmext.ops.msda as msda_op
from mmext.models.layers.elsa import elsa_aggregate
from mmext.models.layers.msda import multi_scale_dilated_attention

pytest.importorskip('triton')
INTERPRETED = os.environ.get('TRITON_INTERPRET') == '1'
in_interpreter = pytest.mark.skipif(not INTERPRETED, reason='run by test_kernels_in_interpreter')


@pytest.mark.skipif(INTERPRETED, reason='already in the interpreter')
def test_kernels_in_interpreter():
    result = subprocess.run(
        [sys.executable, '-m', 'pytest', '-q', '-x', '-p', 'no:cacheprovider', __file__, '-k',
         'test_case_'], env=dict(os.environ, TRITON_INTERPRET='1'), capture_output=True,
        text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert '4 passed' in result.stdout


def _grads(fn, inputs, grad):
    out = fn(*inputs)
    leaves = [t for t in inputs if t is not None]
    return [out] + list(torch.autograd.grad(out, leaves, grad.to(out.dtype)))


def _assert_close(got, want, dtype):
    tol = dict(atol=1e-5, rtol=1e-4) if dtype == torch.float32 else dict(atol=5e-2, rtol=5e-2)
    for a, b in zip(got, want):
        assert a.dtype == dtype
        torch.testing.assert_close(a.float(), b.float(), **tol)


@in_interpreter
@pytest.mark.parametrize('shape,kernel_size,dilations,padding_mode,dtype', [
    ((1, 2, 3, 5, 7), 3, (1, 3), 'zeros', torch.float32),
    ((2, 1, 5, 4, 3), 3, (2, ), 'mask', torch.bfloat16),  # odd channels, window > map
])
def test_case_msda(shape, kernel_size, dilations, padding_mode, dtype, monkeypatch):
    from mmext.ops.msda_triton import triton_msda
    gen = torch.Generator().manual_seed(0)
    qkv = [torch.randn(shape, generator=gen).to(dtype).requires_grad_() for _ in range(3)]
    grad = torch.randn(shape, generator=gen)
    args = (kernel_size, dilations, padding_mode)
    got = _grads(lambda *t: triton_msda(*t, *args), qkv, grad)
    monkeypatch.setattr(msda_op, '_load_kernel', lambda: None)  # the PyTorch path
    want = _grads(lambda *t: multi_scale_dilated_attention(*t, *args), qkv, grad)
    _assert_close(got, want, dtype)


@in_interpreter
@pytest.mark.parametrize('size,kernel_size,dilation,ghosts,dtype', [
    ((2, 2, 3, 5, 4), 3, 1, (True, True), torch.float32),
    ((1, 1, 5, 3, 6), 3, 2, (False, True), torch.bfloat16),  # dilated window > map
])
def test_case_elsa(size, kernel_size, dilation, ghosts, dtype, monkeypatch):
    from mmext.ops.elsa_triton import triton_elsa_aggregate as triton_elsa
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
