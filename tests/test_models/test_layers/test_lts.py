import math

import pytest
import torch
import torch.nn as nn

import mmext  # noqa: F401
from mmext.models.layers import LSQConv2d, LSQLinear, lsq_quantize, lsq_range
from mmext.models.layers.compression_utils import grid_violations


def test_lsq_range():
    assert lsq_range(2, True) == (-2, 1)
    assert lsq_range(4, False) == (0, 15)
    assert lsq_range(1, True) == (-1, 1)  # binary: {-1, +1}


def test_lsq_step_gradient_closed_form():
    # LSQ (arXiv:1902.08153) Eq. 3: dq/ds = round(v) - v inside, qmin / qmax outside, times g
    bits, g = 2, 0.5
    x = torch.tensor([-3.0, -0.9, -0.2, 0.3, 0.74, 2.5], dtype=torch.float64, requires_grad=True)
    s = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    q = lsq_quantize(x, s, bits, True, g)
    v = x.detach() / 0.5
    qmin, qmax = lsq_range(bits, True)
    assert torch.allclose(q, v.round().clamp(qmin, qmax) * 0.5)
    q.sum().backward()
    inside = (v > qmin) & (v < qmax)
    ds = torch.where(inside, v.round() - v, v.clamp(qmin, qmax))
    assert torch.allclose(s.grad, g * ds.sum())
    assert torch.equal(x.grad, inside.double())  # straight-through inside the range only


@pytest.mark.parametrize('bits', [2, 3, 4])
def test_lsq_conv_quantizes_on_grid(bits):
    torch.manual_seed(0)
    conv = LSQConv2d(4, 8, 3, padding=1, weight_bits=bits, act_bits=bits)
    x = torch.relu(torch.randn(2, 4, 6, 6))
    out = conv(x)
    assert conv.lsq_initialized and int(conv.act_signed) == 0  # ReLU input: unsigned
    qw = 2**(bits - 1) - 1
    assert math.isclose(float(conv.weight_step.detach()),
                        float(2 * conv.weight.abs().mean() / math.sqrt(qw)), rel_tol=1e-4)
    info = conv.compression_info()
    w = conv.export_weight()
    assert grid_violations(w, torch.tensor(info['step']), info['qmin'], info['qmax']) == 0
    assert torch.unique(w).numel() <= 2**bits
    # reference forward from the exported weights and a hand-quantized input
    sa = conv.act_step.abs() + 1e-8
    xq = (x / sa).clamp(0, 2**bits - 1).round() * sa
    assert torch.allclose(out, nn.functional.conv2d(xq, w, conv.bias, padding=1), atol=1e-4)
    out.sum().backward()
    for p in (conv.weight, conv.weight_step, conv.act_step):
        assert p.grad is not None and p.grad.abs().sum() > 0


def test_lsq_linear_and_frozen_weights_get_no_gradient():
    fc = LSQLinear(8, 4, weight_bits=4, act_bits=None)
    fc.frozen[0].fill_(True)
    fc(torch.randn(3, 8)).sum().backward()
    assert torch.all(fc.weight.grad[0] == 0) and fc.weight.grad[1:].abs().sum() > 0
    assert fc.compression_info()['act_bits'] == 32


def test_lsq_signed_activations_detected():
    fc = LSQLinear(4, 2, weight_bits=2, act_bits=2)
    fc(torch.randn(5, 4))
    assert int(fc.act_signed) == 1


@pytest.mark.parametrize('kw', [dict(weight_bits=0), dict(weight_bits=9), dict(act_bits=16),
                                dict(weight_bits=2.5)])
def test_lsq_bits_outside_range_refused(kw):
    with pytest.raises(ValueError, match='bits" must be an int in \\[1, 8\\]'):
        LSQConv2d(4, 4, 1, **kw)
