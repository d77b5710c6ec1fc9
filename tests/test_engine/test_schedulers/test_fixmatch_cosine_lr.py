"""FixMatchCosineLR: lr_k = lr_0 cos(7 pi k / 16 K)."""
import math

import pytest
import torch

from mmext.engine.schedulers import FixMatchCosineLR


def test_values_follow_the_formula():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.03)
    sched = FixMatchCosineLR(opt, by_epoch=False, begin=0, end=16)
    lrs = []
    for _ in range(17):
        lrs.append(opt.param_groups[0]['lr'])
        opt.step()
        sched.step()
    for k in range(16):
        assert lrs[k] == pytest.approx(0.03 * math.cos(7 * math.pi * k / (16 * 16)))
    assert lrs[16] == pytest.approx(lrs[15])  # no change past the end
    assert lrs[15] > 0.03 * math.cos(7 * math.pi / 16) > 0


def test_rejects_bad_values():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.03)
    with pytest.raises(ValueError, match='num_cycles'):
        FixMatchCosineLR(opt, num_cycles=0.6, end=10)
    with pytest.raises(ValueError, match='end'):
        FixMatchCosineLR(opt)
