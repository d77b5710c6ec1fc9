import math

import pytest
import torch

from mmext.models.losses import CoKeLoss


def test_hand_computed_value():
    # two clusters, logits (0, log 3): softmax = (1/4, 3/4)
    logits = torch.tensor([[0., math.log(3.)]])
    loss = CoKeLoss(alpha=0.2)
    hard = -math.log(0.25)  # label 0
    soft = -(0.5 * math.log(0.25) + 0.5 * math.log(0.75))  # soft target (1/2, 1/2)
    target = torch.tensor([[0.5, 0.5]])
    assert loss(logits, torch.tensor([0]), target).item() == pytest.approx(
        0.2 * hard + 0.8 * soft, rel=1e-6)
    # small crops (official main_multi_view.py): hard term doubled, soft target of mass 2
    assert loss(logits, torch.tensor([0]), 2 * target, hard_weight=2.).item() == pytest.approx(
        0.4 * hard + 0.8 * 2 * soft, rel=1e-6)
    assert loss(logits, torch.tensor([0])).item() == pytest.approx(0.2 * hard, rel=1e-6)


def test_bad_values():
    with pytest.raises(ValueError, match='alpha'):
        CoKeLoss(alpha=1.5)
    with pytest.raises(ValueError, match='soft_target'):
        CoKeLoss()(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long), torch.zeros(2, 4))
