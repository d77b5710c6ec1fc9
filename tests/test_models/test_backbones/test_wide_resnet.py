"""WideResNet in the FixMatch layout: sizes, shapes, initialisation, bad arguments."""
import pytest
import torch

from mmext.models.backbones import WideResNet


def test_wrn_28_2_size_and_shapes():
    model = WideResNet(depth=28, widen_factor=2, out_indices=(0, 1, 2))
    model.init_weights()
    # WRN-28-2 of the TF FixMatch code with a 10-class dense layer (128 * 10 + 10): 1,469,642
    # parameters, i.e. the 1,467,610 of the bias-free PyTorch ports plus 2,032 conv biases
    params = sum(p.numel() for p in model.parameters())
    biases = sum(m.bias.numel() for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    assert biases == 2032
    assert params + 128 * 10 + 10 == 1_469_642
    normed = {}
    model.final_norm.register_forward_hook(lambda m, a, out: normed.setdefault('x', out))
    outs = model(torch.randn(2, 3, 32, 32))
    assert [tuple(o.shape) for o in outs] == [(2, 32, 32, 32), (2, 64, 16, 16), (2, 128, 8, 8)]
    # the last output went through the final BN + leaky ReLU (slope 0.1)
    assert torch.equal(outs[-1], torch.nn.functional.leaky_relu(normed['x'], 0.1))
    assert outs[-1].min() < 0


def test_fixmatch_initialisation_and_bn():
    model = WideResNet(depth=10, widen_factor=1, in_channels=1)
    model.init_weights()
    conv = model.stages[2][0].conv2  # 3x3, 64 -> 64
    assert conv.weight.std().item() == pytest.approx((2 / (9 * 64))**0.5, rel=0.1)
    assert conv.bias.abs().sum() == 0
    assert model.final_norm.momentum == 0.001
    assert len(model.stages[0]) == 1 and model.stages[0][0].activate_before_residual


def test_frozen_stages_and_bad_args():
    model = WideResNet(depth=10, widen_factor=1, frozen_stages=1)
    model.train()
    assert not model.stem.training and not model.stages[0].training and model.stages[1].training
    assert all(not p.requires_grad for p in model.stages[0].parameters())
    with pytest.raises(ValueError, match='depth'):
        WideResNet(depth=27)
    with pytest.raises(ValueError, match='widen_factor'):
        WideResNet(widen_factor=0)
