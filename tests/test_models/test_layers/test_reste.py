import pytest
import torch
import torch.nn as nn
from mmengine.registry import init_default_scope

import mmext  # noqa: F401
from mmext.models.layers import ReSTEConv2d, reste_grad, reste_sign
from mmext.models.layers.compression_utils import binary_violations


def _estimator(x, o):
    """ReSTE's equivalent forward: sign(x) |x| ** (1 / o)."""
    return torch.sign(x) * x.abs().pow(1.0 / o)


@pytest.mark.parametrize('o', [1.0, 2.0, 3.0])
def test_reste_backward_matches_power_function_derivative(o):
    # inside interval < |x| <= t the gradient is the derivative of sign(x)|x|^(1/o)
    x = torch.tensor([-1.4, -0.7, -0.2, 0.15, 0.5, 1.2], dtype=torch.float64, requires_grad=True)
    reste_sign(x, o).sum().backward()
    eps = 1e-6
    fd = (_estimator(x.detach() + eps, o) - _estimator(x.detach() - eps, o)) / (2 * eps)
    assert torch.allclose(x.grad, fd, atol=1e-5)


def test_reste_backward_near_zero_and_clipped():
    o, t, interval = 3.0, 1.5, 0.1
    x = torch.tensor([-2.0, -0.05, 0.0, 0.08, 1.6], requires_grad=True)
    y = reste_sign(x, o, t, interval)
    assert torch.equal(y, torch.tensor([-1.0, -1.0, 1.0, 1.0, 1.0]))  # zero -> +1
    y.sum().backward()
    secant = interval**(1 / o) / interval  # slope of the chord of |x|^(1/o) on [0, interval]
    expected = torch.tensor([0.0, secant, secant, secant, 0.0])
    assert torch.allclose(x.grad, expected, atol=1e-6)
    # o = 1 is the plain clipped straight-through estimator
    assert torch.allclose(reste_grad(torch.tensor([0.05, 0.5, 1.4, 1.6]), 1.0),
                          torch.tensor([1.0, 1.0, 1.0, 0.0]))


def test_reste_conv_forward_binary_and_gradients():
    torch.manual_seed(0)
    conv = ReSTEConv2d(4, 6, 3, padding=1, bias=False)
    conv.o.fill_(2.0)
    x = torch.randn(2, 4, 8, 8, requires_grad=True)
    out = conv(x)
    # reference: sign(x) conv (sign(w) * mean|w|)
    sgn = lambda t: torch.where(t >= 0, 1.0, -1.0)  # noqa: E731
    ref = nn.functional.conv2d(sgn(x), sgn(conv.weight) * conv.weight.abs().mean(), padding=1)
    assert torch.allclose(out, ref, atol=1e-5)
    out.square().mean().backward()
    assert conv.weight.grad.abs().sum() > 0 and x.grad.abs().sum() > 0
    assert binary_violations(conv.export_weight()) == 0
    w = conv.export_weight()
    assert torch.unique(w).numel() == 2  # one layer-wide scale


def test_reste_conv_channel_scale_and_fp_activations():
    conv = ReSTEConv2d(3, 4, 1, scale='channel', binarize_act=False)
    w = conv.export_weight()
    assert binary_violations(w) == 0
    assert torch.allclose(w.abs().amax(dim=(1, 2, 3)), conv.weight.abs().mean(dim=(1, 2, 3)))
    x = torch.randn(1, 3, 4, 4)
    assert torch.allclose(conv(x), nn.functional.conv2d(x, w, conv.bias), atol=1e-6)


def test_reste_conv_bad_config():
    with pytest.raises(ValueError, match='"scale"'):
        ReSTEConv2d(3, 4, 1, scale='tensor')
    with pytest.raises(ValueError, match='"interval"'):
        ReSTEConv2d(3, 4, 1, t=1.5, interval=2.0)


def test_reste_through_mmpretrain_resnet_conv_cfg():
    init_default_scope('mmpretrain')
    from mmpretrain.registry import MODELS
    backbone = MODELS.build(
        dict(type='ResNet', depth=18, base_channels=8, stem_channels=8, num_stages=2,
             strides=(1, 2), dilations=(1, 1), out_indices=(1, ),
             conv_cfg=dict(type='mmext.ReSTEConv2d', scale='channel')))
    convs = [m for m in backbone.modules() if isinstance(m, nn.Conv2d)]
    assert convs and all(isinstance(m, ReSTEConv2d) for m in convs)
    assert all(m.scale == 'channel' for m in convs)
    out = backbone(torch.randn(1, 3, 32, 32))[0]
    assert out.shape == (1, 16, 4, 4)
    out.mean().backward()
    assert all(m.weight.grad is not None for m in convs)
