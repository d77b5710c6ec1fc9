import pytest
import torch
import torch.nn.functional as F

import mmext  # noqa: F401
from mmext.models.backbones.genet import GENet, GEResLayer

TINY = dict(stem_channels=8,
            stages=[['XX', 8, 3, 2, 1.0, 1], ['BL', 16, 3, 2, 0.5, 2],
                    ['DW', 16, 3, 1, 2.0, 1]],
            last_channels=32)


@pytest.mark.parametrize('arch,published', [('small', 8.17e6), ('normal', 21.14e6),
                                            ('large', 31.08e6)])
def test_published_params(arch, published):
    # Published counts include a 1000-class fc on the final 1x1 conv.
    with torch.device('meta'):
        model = GENet(arch=arch)
    n = sum(p.numel() for p in model.parameters())
    n += model.out_channels[-1] * 1000 + 1000
    assert abs(n - published) / published < 0.02


def test_forward_shapes_any_size():
    model = GENet(arch=TINY, in_channels=1, out_indices=(0, 1, 2, 3))
    outs = model(torch.randn(2, 1, 37, 45))
    assert [o.shape[1] for o in outs] == [8, 16, 16, 32]
    # stem /2, stage0 /2, stage1 /2, stage2 /1 (ceil for odd sizes)
    assert outs[0].shape[-2:] == (10, 12)
    assert outs[3].shape[-2:] == outs[2].shape[-2:] == (5, 6)


def test_xx_block_matches_reference():
    torch.manual_seed(0)
    block = GEResLayer('XX', 4, 6, kernel_size=3, stride=2, expansion=1.5).eval()
    x = torch.randn(2, 4, 9, 9)

    def conv_bn(m, y, groups=1):
        y = F.conv2d(y, m.conv.weight, None, m.conv.stride, m.conv.padding, groups=groups)
        bn = m.bn
        return (y - bn.running_mean[None, :, None, None]) / torch.sqrt(
            bn.running_var[None, :, None, None] + bn.eps) * bn.weight[None, :, None, None] \
            + bn.bias[None, :, None, None]

    for m in block.modules():  # non-trivial BN statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
            m.weight.data.uniform_(0.5, 2)
    mid = F.relu(conv_bn(block.branch[0], x))
    ref = F.relu(conv_bn(block.branch[1], mid) + conv_bn(block.shortcut, x))
    assert block.branch[0].conv.out_channels == 9
    torch.testing.assert_close(block(x), ref)


def test_dw_block_is_depthwise_and_identity_shortcut():
    block = GEResLayer('DW', 8, 8, expansion=3.0)
    assert block.branch[1].conv.groups == 24
    assert isinstance(block.shortcut, torch.nn.Identity)


def test_gradients_reach_every_parameter():
    model = GENet(arch=TINY, in_channels=1)
    model(torch.randn(2, 1, 32, 32))[-1].sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_frozen_stages_and_norm_eval():
    model = GENet(arch=TINY, frozen_stages=1, norm_eval=False)
    model.train()
    assert not model.stem.bn.training
    assert all(not p.requires_grad for p in model.stages[0].parameters())
    assert all(p.requires_grad for p in model.stages[1].parameters())
    assert model.stages[1][0].branch[0].bn.training
    model = GENet(arch=TINY, norm_eval=True).train()
    assert not model.stages[2][0].branch[0].bn.training


def test_bad_config():
    with pytest.raises(ValueError, match='"arch" must be one of'):
        GENet(arch='huge')
    with pytest.raises(ValueError, match='num_layers must be >= 1'):
        GENet(arch=dict(TINY, stages=[['XX', 8, 3, 2, 1.0, 0]]))
    with pytest.raises(ValueError, match='"block_type" must be one of'):
        GEResLayer('YY', 4, 4)
    with pytest.raises(ValueError, match='"out_indices"'):
        GENet(arch=TINY, out_indices=(7, ))
