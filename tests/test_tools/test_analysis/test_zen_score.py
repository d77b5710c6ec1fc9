"""tools/analysis/zen_score.py follows the Zen-NAS definition."""
import math

import pytest
import torch
import torch.nn as nn


@pytest.fixture(scope='module')
def zen(load_tool):
    return load_tool('analysis/zen_score.py')


class _ConvBN(nn.Module):

    def __init__(self, depth=2, width=8):
        super().__init__()
        layers, c = [], 1
        for _ in range(depth):
            layers += [nn.Conv2d(c, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU()]
            c = width
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return (self.body(x), )


def reference(model, x, eps, gamma):
    """Paper formula written out: log E||f(x) - f(x + g eps)||_1 + sum log sigma_BN."""
    model.train()
    sigmas, h = [], x
    for m in model.body:
        if isinstance(m, nn.BatchNorm2d):
            sigmas.append(h.var(dim=(0, 2, 3), unbiased=False).mean().sqrt())
        h = m(h)
    out2 = model(x + gamma * eps)[0]
    delta = (h - out2).abs().sum(dim=(1, 2, 3)).mean()
    return math.log(delta) + sum(math.log(s) for s in sigmas)


def test_official_setting_by_hand(zen):
    # one conv (1 -> 2 channels) + BN + ReLU, official setting: BN running variances after the
    # forwards on x and x + gamma * eps, starting from 1 with momentum 0.1
    torch.manual_seed(0)
    model = _ConvBN(depth=1, width=2)
    gen = torch.Generator().manual_seed(5)
    result = zen.zen_score(model, (1, 6, 6), batch_size=3, repeat=1, mixup_gamma=0.01,
                           generator=gen)
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(3, 1, 6, 6, generator=gen)
    x2 = x + 0.01 * torch.randn(3, 1, 6, 6, generator=gen)
    conv = model.body[0]  # the Gaussian weights zen_score drew (bias zeroed)
    assert torch.all(conv.bias == 0)

    def by_hand(inp):
        h = torch.nn.functional.conv2d(inp, conv.weight, padding=1)
        mean = h.mean(dim=(0, 2, 3), keepdim=True)
        var_b = h.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
        out = torch.relu((h - mean) / torch.sqrt(var_b + 1e-5))
        return out, h.var(dim=(0, 2, 3), unbiased=True)

    with torch.no_grad():
        y1, v1 = by_hand(x)
        y2, v2 = by_hand(x2)
    running = 0.9 * (0.9 * 1.0 + 0.1 * v1) + 0.1 * v2
    expected = (math.log((y1 - y2).abs().sum(dim=(1, 2, 3)).mean())
                + 0.5 * math.log(running.mean()))
    assert result['zen_score'] == pytest.approx(expected, rel=1e-5)


def test_plain_network_strips_residuals_and_se(zen):
    from mmext.models.backbones.zennet import ZenNet, ZenResUnit
    arch = dict(stem_channels=8, blocks=[[2, 3, 8, 2, 8, 1]], last_channels=16, use_se=True)
    torch.manual_seed(0)
    net = ZenNet(arch=arch)
    unit = net.stages[0][1]  # identity-shortcut unit: plain = ReLU(branch(x)) without SE
    assert zen.plain_network(net) == 2
    assert not any(isinstance(m, ZenResUnit) for m in net.modules())
    assert not any('SqueezeExcite' in type(m).__name__ for m in net.modules())
    x = torch.randn(2, 8, 4, 4)
    plain = net.stages[0][1]
    net.eval()
    with torch.no_grad():
        branch = [m for m in unit.branch if 'SqueezeExcite' not in type(m).__name__]
        ref = x
        for m in branch:
            ref = m(ref)
        assert torch.allclose(plain(x), torch.relu(ref))
    assert net(torch.randn(2, 3, 16, 16))[-1].shape == (2, 16, 4, 4)


def test_batch_variance_option_matches_reference(zen):
    torch.manual_seed(0)
    model = _ConvBN()
    gen = torch.Generator().manual_seed(3)
    result = zen.zen_score(model, (1, 8, 8), batch_size=4, repeat=1, mixup_gamma=0.01,
                           generator=gen, bn_variance='batch')
    # zen_score re-initialised the weights (Gaussian) before its forward: redo its draws
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(4, 1, 8, 8, generator=gen)
    eps = torch.randn(4, 1, 8, 8, generator=gen)
    with torch.no_grad():
        ref = reference(model, x, eps, 0.01)
    assert result['zen_score'] == pytest.approx(ref, rel=1e-4)
    # Gaussian init: N(0, 1) conv weights, identity BN affine
    assert model.body[0].weight.std() > 0.5 and torch.all(model.body[1].weight == 1)


def test_deeper_network_scores_higher(zen):
    # Expressivity grows with depth: the ordering Zen-NAS relies on
    gen = torch.Generator().manual_seed(0)
    shallow = zen.zen_score(_ConvBN(depth=1), (1, 8, 8), 8, 3, generator=gen)['zen_score']
    deep = zen.zen_score(_ConvBN(depth=4), (1, 8, 8), 8, 3, generator=gen)['zen_score']
    assert deep > shallow


def test_cli_on_a_config(zen, capsys):
    result = zen.main(['configs/genet/genet-tiny_1xb128-2e_fashionmnist.py', '--shape', '28',
                       '--repeat', '2', '--batch-size', '4'])
    assert math.isfinite(result['zen_score']) and len(result['scores']) == 2
    assert '| 1x28x28 |' in capsys.readouterr().out


def test_bad_arguments(zen):
    with pytest.raises(ValueError, match='"batch_size" must be >= 2'):
        zen.zen_score(_ConvBN(), (1, 8, 8), batch_size=1)
    with pytest.raises(ValueError, match='"bn_variance"'):
        zen.zen_score(_ConvBN(), (1, 8, 8), bn_variance='ema')


def test_dropout_is_disabled(zen):
    # with dropout active the two forwards would differ by far more than the perturbation;
    # without it this network is linear and the score moves by exactly log(10) when gamma does
    model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.Dropout(0.5))
    torch.manual_seed(0)  # same Gaussian weights in both calls
    gen = torch.Generator().manual_seed(0)
    small = zen.zen_score(model, (1, 8, 8), 4, 2, mixup_gamma=1e-2, generator=gen)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    large = zen.zen_score(model, (1, 8, 8), 4, 2, mixup_gamma=1e-1, generator=gen)
    assert large['zen_score'] - small['zen_score'] == pytest.approx(math.log(10), rel=1e-3)
    assert model.training
