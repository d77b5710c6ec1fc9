import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import mmext  # noqa: F401
from mmext.models.backbones.maedet import MAEDet, parse_maedet_structure
from mmext.models.backbones.zennet import ZenResUnit

TINY = [
    {'class': 'ConvKXBNRELU', 'in': 3, 'out': 8, 's': 2, 'k': 3},
    {'class': 'SuperResK1KXK1', 'in': 8, 'out': 16, 's': 2, 'k': 5, 'L': 2, 'btn': 8},
    {'class': 'SuperResK1KXK1', 'in': 16, 'out': 24, 's': 2, 'k': 3, 'L': 1, 'btn': 8},
    {'class': 'SuperResK1KXK1', 'in': 24, 'out': 32, 's': 1, 'k': 3, 'L': 3, 'btn': 16},
]


@pytest.mark.parametrize('arch,published', [('s', 21.2e6), ('m', 25.8e6), ('l', 43.9e6)])
def test_published_params(arch, published):
    # official README: backbone parameters (ResNet-50: 23.5M, i.e. without the fc)
    with torch.device('meta'):
        model = MAEDet(arch=arch)
    n = sum(p.numel() for p in model.parameters())
    assert abs(n - published) / published < 0.01


def test_official_structure_text_and_stage_layout():
    official_s = """{ 'best_structures':[ [
        {'class': 'ConvKXBNRELU', 'in': 3, 'out': 32, 's': 2, 'k': 3},
        {'class': 'SuperResK1KXK1', 'in': 32, 'out': 48, 's': 2, 'k': 5, 'L': 2, 'btn': 32},
        {'class': 'SuperResK1KXK1', 'in': 48, 'out': 272, 's': 2, 'k': 3, 'L': 4, 'btn': 120},
        {'class': 'SuperResK1KXK1', 'in': 272, 'out': 1024, 's': 2, 'k': 5, 'L': 10, 'btn': 80},
        {'class': 'SuperResK1KXK1', 'in': 1024, 'out': 2048, 's': 2, 'k': 3, 'L': 10,
         'btn': 240}]], 'space_arch': 'CnnNet'}"""
    assert parse_maedet_structure(official_s) == MAEDet.arch_settings['s']
    with torch.device('meta'):
        model = MAEDet(arch='m')
    assert model.out_channels == [120, 512, 1632, 2048]
    assert [len(s) for s in model.stages] == [2, 10, 10, 8]
    first, second = model.stages[1][0], model.stages[1][1]
    # stride and projection on the first unit: full 5x5 conv, avg-pool + bias-free 1x1 conv
    assert first.branch[1].conv.stride == (2, 2) and first.branch[1].conv.groups == 1
    assert first.branch[1].conv.kernel_size == (5, 5) and first.branch[1].conv.out_channels == 72
    assert isinstance(first.shortcut[0], nn.AvgPool2d) and first.shortcut[1].bias is None
    assert isinstance(second.shortcut, nn.Identity)


def test_unit_matches_official_layout():
    """ResK1KXK1 of the official code written out: 1x1-BN-ReLU, KxK(stride)-BN-ReLU, 1x1-BN;
    shortcut AvgPool(2, 2) -> 1x1 conv -> BN; ReLU after the sum."""
    torch.manual_seed(0)
    unit = ZenResUnit(4, 6, 5, kernel_size=5, stride=2, force_proj=True, depthwise=False,
                      avg_down=True, proj_bias=False).eval()
    for m in unit.modules():
        if isinstance(m, nn.BatchNorm2d):
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.normal_(m.bias)
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2)
    x = torch.randn(2, 4, 8, 8)

    def bn(m, h):
        return F.batch_norm(h, m.running_mean, m.running_var, m.weight, m.bias, eps=m.eps)

    b = unit.branch
    h = F.relu(bn(b[0].bn, F.conv2d(x, b[0].conv.weight)))
    h = F.relu(bn(b[1].bn, F.conv2d(h, b[1].conv.weight, stride=2, padding=2)))
    h = bn(b[2].bn, F.conv2d(h, b[2].conv.weight))
    res = bn(unit.shortcut[2], F.conv2d(F.avg_pool2d(x, 2, 2), unit.shortcut[1].weight))
    torch.testing.assert_close(unit(x), F.relu(h + res))
    # odd sizes: the pooled shortcut keeps the strided branch's ceil size
    assert unit(torch.randn(1, 4, 9, 7)).shape[-2:] == (5, 4)


def test_forward_shapes_frozen_and_gradients():
    model = MAEDet(arch=TINY, out_indices=(0, 1, 2), frozen_stages=0).train()
    assert model.out_channels == [16, 24, 32]
    outs = model(torch.randn(2, 3, 64, 48))
    assert [tuple(o.shape) for o in outs] == [(2, 16, 16, 12), (2, 24, 8, 6), (2, 32, 8, 6)]
    assert not model.stem.bn.training
    assert all(not p.requires_grad for p in model.stem.parameters())
    sum(o.mean() for o in outs).backward()
    for name, p in model.named_parameters():
        if not name.startswith('stem'):
            assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert len(MAEDet(arch=TINY, out_indices=-1)(torch.randn(1, 3, 32, 32))) == 1


@pytest.mark.parametrize('change,message', [
    (lambda s: s[1].pop('btn'), r'"arch\[1\]" \(SuperResK1KXK1\) misses keys \[\'btn\'\]'),
    (lambda s: s[2].update(s=3), r'"arch\[2\]\["s"\]" \(stride\) must be 1 or 2'),
    (lambda s: s[2].update({'in': 20}), r'"arch\[2\]\["in"\]" must equal the previous'),
    (lambda s: s[3].update(k=4), r'"arch\[3\]\["k"\]" \(kernel size\) must be odd'),
    (lambda s: s[3].update(L=0), r'"arch\[3\]\["L"\]" must be a positive int'),
    (lambda s: s[1].update(se=1), r'"arch\[1\]" \(SuperResK1KXK1\) has unknown keys \[\'se\'\]'),
    (lambda s: s[0].update({'class': 'SuperResK1KXK1'}), r'"arch\[0\]\["class"\]" must be'),
])
def test_bad_structure_fails_at_build_naming_the_key(change, message):
    import copy
    structure = copy.deepcopy(TINY)
    change(structure)
    with pytest.raises(ValueError, match=message):
        MAEDet(arch=structure)
    with pytest.raises(ValueError, match=message):  # the same as text
        MAEDet(arch=repr(structure))


def test_bad_arch_name_and_text():
    with pytest.raises(ValueError, match='"arch" must be one of'):
        MAEDet(arch='maedet-xl')
    with pytest.raises(ValueError, match='"arch" is not a MAE-DET structure literal'):
        MAEDet(arch="[{'class': 'ConvKXBNRELU',")
    with pytest.raises(ValueError, match=r'"arch\[0\]\["in"\]" \(3\) must equal "in_channels"'):
        MAEDet(arch=TINY, in_channels=1)
    with pytest.raises(ValueError, match='"out_indices" must be in'):
        MAEDet(arch=TINY, out_indices=(3, ))
