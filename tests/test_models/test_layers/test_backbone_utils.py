"""Tests of the frozen-stage helpers shared by the backbones (layers/backbone_utils.py)."""
import pytest
import torch
import torch.nn as nn

from mmext.models.layers.backbone_utils import (FrozenStagesMixin, StemStagesFinalConvMixin,
                                                check_stage_args, freeze_modules)


class _Net(StemStagesFinalConvMixin, nn.Module):
    """stem -> 2 stages -> final conv, with BN everywhere."""

    def __init__(self, out_indices, frozen_stages=-1, norm_eval=False):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2))
        self.stages = nn.ModuleList(
            [nn.Sequential(nn.Conv2d(2, 2, 1), nn.BatchNorm2d(2)) for _ in range(2)])
        self.final_conv = nn.Sequential(nn.Conv2d(2, 3, 1), nn.BatchNorm2d(3))
        self.num_outputs = 3
        self.out_indices = out_indices
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self._freeze_stages()


def test_freeze_modules():
    m = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    freeze_modules([m])
    assert not m.training and not m[1].training
    assert all(not p.requires_grad for p in m.parameters())


def test_check_stage_args():
    assert check_stage_args(-1, -1, 4) == [3]
    assert check_stage_args((0, -2), 3, 4) == [0, 2]
    with pytest.raises(ValueError, match=r'"out_indices" must be in \[0, 4\), got 4'):
        check_stage_args((4, ), -1, 4)
    with pytest.raises(ValueError, match=r'"frozen_stages" must be in \[-1, 4\), got 4'):
        check_stage_args(3, 4, 4)


def test_forward_matches_reference():
    torch.manual_seed(0)
    net = _Net(out_indices=[0, 2]).eval()
    x = torch.randn(2, 1, 5, 5)
    s0 = net.stages[0](net.stem(x))
    ref_final = net.final_conv(net.stages[1](s0))
    outs = net(x)
    assert len(outs) == 2
    assert torch.equal(outs[0], s0) and torch.equal(outs[1], ref_final)


def test_train_keeps_frozen_stages_and_norm_eval():
    net = _Net(out_indices=[2], frozen_stages=1).train()
    for m in (net.stem, net.stages[0]):
        assert not m.training and all(not p.requires_grad for p in m.parameters())
    assert net.stages[1].training and all(p.requires_grad for p in net.stages[1].parameters())
    net = _Net(out_indices=[2], norm_eval=True).train()
    assert all(not m.training for m in net.modules() if isinstance(m, nn.BatchNorm2d))
    assert net.stages[1][0].training
    net.eval()
    assert not net.training
    assert issubclass(_Net, FrozenStagesMixin)
