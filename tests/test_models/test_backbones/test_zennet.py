import pytest
import torch

import mmext  # noqa: F401
from mmext.models.backbones.zennet import ZenNet, ZenResUnit, make_divisible_round

TINY = dict(stem_channels=8, blocks=[[2, 3, 16, 2, 8, 1], [1, 5, 24, 1, 16, 2]],
            last_channels=32, use_se=True)


@pytest.mark.parametrize('arch,published,with_se', [
    # The official README lists 5.7M / 7.1M for the 400M / 600M SE models: those figures
    # match the structures without the SE gates; 19.4M (900M) matches with them.
    ('flops400m-se', 5.7e6, False), ('flops600m-se', 7.1e6, False),
    ('flops900m-se', 19.4e6, True)
])
def test_published_params(arch, published, with_se):
    with torch.device('meta'):
        model = ZenNet(arch=arch)
    n = sum(p.numel() for name, p in model.named_parameters()
            if with_se or '.gate.' not in name)
    n += 2048 * 1000 + 1000
    assert abs(n - published) / published < 0.02


def test_published_flops_400m():
    from mmengine.analysis import FlopAnalyzer
    model = ZenNet(arch='flops400m-se').eval()
    analyzer = FlopAnalyzer(model, (torch.randn(1, 3, 224, 224), ))
    analyzer.unsupported_ops_warnings(False)
    flops = analyzer.total() + 2048 * 1000
    assert abs(flops - 410e6) / 410e6 < 0.05


def test_divisible_round():
    assert make_divisible_round(40 * 1) == 40
    assert make_divisible_round(88 * 6) == 528
    assert make_divisible_round(3) == 8
    # Python round() (ties to even) as in the official code: 36 / 8 = 4.5 -> 4
    assert make_divisible_round(36) == 32 and make_divisible_round(37) == 40


def test_unit_reference_without_se():
    torch.manual_seed(0)
    unit = ZenResUnit(4, 6, 8, kernel_size=3, stride=2).eval()
    x = torch.randn(2, 4, 9, 9)
    y = unit.branch[0](x)
    y = unit.branch[1](y)
    y = unit.branch[2](y)
    ref = torch.relu(y + unit.shortcut(x))
    torch.testing.assert_close(unit(x), ref)
    assert unit.branch[1].conv.groups == 8
    assert isinstance(ZenResUnit(6, 6, 8).shortcut, torch.nn.Identity)
    assert not isinstance(ZenResUnit(6, 6, 8, force_proj=True).shortcut, torch.nn.Identity)


def test_structure_and_forward():
    model = ZenNet(arch=TINY, in_channels=1, out_indices=(0, 1, 2))
    # one (in -> bottleneck, bottleneck -> out) pair per sub-layer
    assert len(model.stages[0]) == 2 and len(model.stages[1]) == 4
    assert model.stages[0][0].branch[0].conv.out_channels == 16  # round8(8 * 2)
    assert model.stages[0][1].branch[0].conv.out_channels == 32  # round8(16 * 2)
    outs = model(torch.randn(2, 1, 33, 30))
    assert [o.shape[1] for o in outs] == [16, 24, 32]
    assert outs[0].shape[-2:] == (9, 8)
    (outs[-1] * torch.randn_like(outs[-1])).sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name


def test_frozen_and_bad_config():
    model = ZenNet(arch=TINY, frozen_stages=1).train()
    assert not model.stem.bn.training
    assert all(not p.requires_grad for p in model.stages[0].parameters())
    with pytest.raises(ValueError, match='"arch" must be one of'):
        ZenNet(arch='flops1g')
    with pytest.raises(ValueError, match='sub_layers>=1'):
        ZenNet(arch=dict(TINY, blocks=[[1, 3, 8, 1, 8, 0]]))
