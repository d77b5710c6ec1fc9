"""tools/analysis/maedet_score.py follows the MAE-DET entropy score."""
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmext.utils.zero_shot_nas import plain_network


@pytest.fixture(scope='module')
def tool(load_tool):
    return load_tool('analysis/maedet_score.py')


class _TwoLevels(nn.Module):
    """Stem: 1x1 conv 1 -> 2 channels; one stage: 1x1 stride-2 conv 2 -> 4 channels."""

    def __init__(self, widths=(2, 4)):
        super().__init__()
        self.stem = nn.Conv2d(1, widths[0], 1, bias=False)
        self.stages = nn.ModuleList(
            [nn.Sequential(nn.Conv2d(widths[0], widths[1], 1, stride=2, bias=False))])
        if widths != (2, 4):
            return
        with torch.no_grad():
            self.stem.weight.copy_(torch.tensor([2., 3.]).view(2, 1, 1, 1))
            self.stages[0][0].weight.copy_(
                torch.tensor([[1., 0.], [-1., 1.], [2., 0.5], [0., 3.]]).view(4, 2, 1, 1))

    def forward(self, x):
        x = self.stem(x)
        return (self.stages[0](x), )


def _std(values):
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean)**2 for v in values) / (len(values) - 1))  # unbiased


def test_hand_computed_two_level_network(tool):
    x = [float(v) for v in range(16)]  # one 1x4x4 image, row-major
    # stem: channel 0 = 2x, channel 1 = 3x; deviation over all 32 values, then rescaled to 1
    stem = [[2 * v for v in x], [3 * v for v in x]]
    s1 = _std(stem[0] + stem[1])
    h = [[v / s1 for v in c] for c in stem]
    # stride-2 1x1 conv keeps pixels (0, 0), (0, 2), (2, 0), (2, 2): indices 0, 2, 8, 10
    w = [[1., 0.], [-1., 1.], [2., 0.5], [0., 3.]]
    out = [w[o][0] * h[0][p] + w[o][1] * h[1][p] for o in range(4) for p in (0, 2, 8, 10)]
    s2 = _std(out)
    stage1 = math.log(2) + math.log(s1)  # log C + entropies so far
    stage2 = math.log(4) + math.log(s1) + math.log(s2)
    inputs = torch.tensor(x).view(1, 1, 4, 4)
    result = tool.maedet_score(_TwoLevels(), (1, 4, 4), repeat=1, stage_weights=(1, 6),
                               init=False, inputs=inputs)
    assert result['maedet_score'] == pytest.approx(stage1 + 6 * stage2, rel=1e-6)
    assert result['stage_scores'] == pytest.approx([stage1, stage2], rel=1e-6)
    assert result['stage_channels'] == [2, 4]
    # closed form (later official madnas): log sqrt(fan_in) per conv: 0 (stem), log sqrt(2)
    analytic = tool.maedet_score(_TwoLevels(), (1, 4, 4), stage_weights=(1, 6), analytic=True)
    expected = math.log(2) + 6 * (math.log(4) + 0.5 * math.log(2))
    assert analytic['maedet_score'] == pytest.approx(expected, rel=1e-9)


def test_stage_weights_must_match_levels(tool):
    with pytest.raises(ValueError, match='"stage_weights" has 5 values but the backbone has 2'):
        tool.maedet_score(_TwoLevels(), (1, 8, 8), batch_size=2, repeat=1)


def test_gaussian_measure_approaches_closed_form(tool):
    # wide 1x1 convs (no zero-padding borders): the measured deviation is close to
    # sqrt(fan_in), its expectation
    net = _TwoLevels(widths=(64, 64))
    gen = torch.Generator().manual_seed(0)
    measured = tool.maedet_score(net, (1, 32, 32), batch_size=8, repeat=4,
                                 stage_weights=(0, 1), generator=gen)
    analytic = tool.maedet_score(net, (1, 32, 32), stage_weights=(0, 1), analytic=True)
    assert analytic['maedet_score'] == pytest.approx(math.log(64) + 0.5 * math.log(64))
    assert measured['maedet_score'] == pytest.approx(analytic['maedet_score'], abs=0.1)
    # the model passed in keeps its own weights
    net = _TwoLevels()
    tool.maedet_score(net, (1, 8, 8), batch_size=2, repeat=1, stage_weights=(0, 1))
    assert net.stem.weight.flatten().tolist() == [2., 3.]


def test_plain_maedet_matches_official_entropy_loop(tool):
    """The official entropy forward of a plain MAE-DET net, written out: every conv of the
    residual branches in order, no BN / ReLU, output rescaled to unit deviation."""
    from mmext.models.backbones.maedet import MAEDet
    structure = [
        {'class': 'ConvKXBNRELU', 'in': 3, 'out': 8, 's': 2, 'k': 3},
        {'class': 'SuperResK1KXK1', 'in': 8, 'out': 16, 's': 2, 'k': 3, 'L': 2, 'btn': 8},
        {'class': 'SuperResK1KXK1', 'in': 16, 'out': 24, 's': 2, 'k': 5, 'L': 1, 'btn': 8},
    ]
    torch.manual_seed(0)
    net = MAEDet(arch=structure, out_indices=(0, 1))
    assert plain_network(net) == 3
    torch.manual_seed(1)
    x = torch.randn(2, 3, 32, 32)
    result = tool.maedet_score(net, (3, 32, 32), stage_weights=(1, 2, 3), init=False,
                               inputs=x)
    log_std, ends = 0.0, []
    h = x
    units = [[net.stem.conv]] + [[u[0][i].conv for i in range(3)] for s in net.stages for u in s]
    for unit in units:
        for conv in unit:
            h = F.conv2d(h, conv.weight, None, conv.stride, conv.padding, 1, conv.groups)
            log_std += math.log(h.std().item())
            h = h / h.std()
        ends.append((log_std, h.shape[1]))
    # stage ends: the stem (next unit downsamples), the 2nd unit of block 1, the last unit
    stages = [ends[i][0] + math.log(ends[i][1]) for i in (0, 2, 3)]
    expected = stages[0] + 2 * stages[1] + 3 * stages[2]
    assert result['maedet_score'] == pytest.approx(expected, rel=1e-5)


def test_cli_scores_plain_network_and_ranks_sizes(tool, tmp_path):
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(
        "custom_imports = dict(imports=['mmext'], allow_failed_imports=False)\n"
        "model = dict(backbone=dict(type='mmext.MAEDet', arch=[\n"
        "    {'class': 'ConvKXBNRELU', 'in': 3, 'out': 8, 's': 2, 'k': 3},\n"
        "    {'class': 'SuperResK1KXK1', 'in': 8, 'out': 16, 's': 2, 'k': 3, 'L': 1, 'btn': 8},\n"
        "    {'class': 'SuperResK1KXK1', 'in': 16, 'out': 32, 's': 2, 'k': 3, 'L': 1,"
        " 'btn': 8}], out_indices=(0, 1)))\n")
    args = [str(cfg), '--shape', '32', '--batch-size', '2', '--repeat', '2',
            '--stage-weights', '0', '1', '6']
    small = tool.main(args)
    deeper = tool.main(args + ['--cfg-options', 'model.backbone.arch.2.L=3'])
    assert deeper['maedet_score'] > small['maedet_score']
    assert len(small['scores']) == 2
