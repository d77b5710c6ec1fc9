import math

import pytest
import torch
import torch.nn as nn

from mmext.models.losses import BCTLoss


class _Old(nn.Module):

    def __init__(self):
        super().__init__()
        self.head = nn.Module()
        self.head.fc = nn.Linear(2, 2)
        with torch.no_grad():
            self.head.fc.weight.copy_(torch.tensor([[1., 0.], [0., 1.]]))
            self.head.fc.bias.zero_()
        self.requires_grad_(False)


def test_bct_hand_value_and_gradient():
    loss = BCTLoss()
    loss.bind_old_model(_Old())
    assert not list(loss.parameters()) and not loss.state_dict()
    feat = torch.tensor([[2., 0.], [0., 1.]], requires_grad=True)
    out = loss(feat, torch.tensor([0, 0]))
    # old logits [2, 0] -> CE = log(1 + e^-2); [0, 1] -> CE = log(1 + e^1)
    expect = (math.log(1 + math.exp(-2)) + math.log(1 + math.e)) / 2
    assert out.item() == pytest.approx(expect, rel=1e-6)
    out.backward()
    assert feat.grad.abs().sum() > 0


def test_bct_ract_and_unknown_classes():
    loss = BCTLoss(regression_alleviating=True)
    loss.bind_old_model(_Old())
    feat = torch.tensor([[2., 0.], [5., 5.]])
    new_logits = torch.tensor([[0., 1., 2.], [9., 9., 9.]])
    # sample 1 has class 2, unknown to the old classifier: left out. Sample 0: old logits
    # [2, 0] + new logits of the other classes [1, 2] (class 0 masked) -> CE on class 0
    out = loss([feat, new_logits], torch.tensor([0, 2]))
    expect = -math.log(math.exp(2) / (math.exp(2) + 1 + math.e + math.exp(2)))
    assert out.item() == pytest.approx(expect, rel=1e-6)
    assert loss([feat, new_logits], torch.tensor([2, 2])).item() == 0.


def test_bct_errors():
    with pytest.raises(RuntimeError, match='old classifier'):
        BCTLoss()(torch.randn(2, 2), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match='not found'):
        BCTLoss(old_classifier='head.linear').bind_old_model(_Old())
    loss = BCTLoss()
    loss.bind_old_model(_Old())
    with pytest.raises(ValueError, match='old classifier'):
        loss(torch.randn(2, 3), torch.tensor([0, 1]))
    ract = BCTLoss(regression_alleviating=True)
    ract.bind_old_model(_Old())
    with pytest.raises(ValueError, match='two outputs'):
        ract(torch.randn(2, 2), torch.tensor([0, 1]))
