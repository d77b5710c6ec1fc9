import math

import pytest
import torch
import torch.nn.functional as F

from mmext.models.losses import NKDLoss, TfNKDLoss


def reference_nkd(logit_s, logit_t, label, temp, gamma):
    """Per-sample loops straight from the paper's formula (arXiv 2208.10139)."""
    total = 0.0
    n, c = logit_s.shape
    for i in range(n):
        t = int(label[i])
        p_t = torch.softmax(logit_t[i], 0)[t]
        total -= p_t * torch.log_softmax(logit_s[i], 0)[t]
        keep = [j for j in range(c) if j != t]
        q_t = torch.softmax(logit_t[i, keep] / temp, 0)
        q_s = torch.log_softmax(logit_s[i, keep] / temp, 0)
        total -= gamma * temp**2 * (q_t * q_s).sum()
    return total / n


def test_nkd_hand_computed():
    # 1 sample, 3 classes, label 0. Student logits (0, 0, 0): S_t = 1/3, normalized non-target
    # student (1/2, 1/2). Teacher logits (log 2, 0, log 3): T = (2, 1, 3) / 6, T_t = 1/3,
    # normalized non-target teacher (1/4, 3/4).
    # L = -1/3 * log(1/3) - 1.5 * (1/4 log 1/2 + 3/4 log 1/2) = log(3) / 3 + 1.5 log 2.
    logit_s = torch.zeros(1, 3)
    logit_t = torch.tensor([[math.log(2), 0.0, math.log(3)]])
    loss = NKDLoss(temperature=1.0, gamma=1.5)(logit_s, logit_t, torch.tensor([0]))
    assert loss.item() == pytest.approx(math.log(3) / 3 + 1.5 * math.log(2), rel=1e-6)


@pytest.mark.parametrize('temp,gamma', [(1.0, 1.5), (2.0, 1.0)])
def test_nkd_matches_reference(temp, gamma):
    torch.manual_seed(0)
    logit_s, logit_t = torch.randn(5, 7), torch.randn(5, 7)
    label = torch.randint(0, 7, (5, ))
    loss = NKDLoss(temperature=temp, gamma=gamma)(logit_s, logit_t, label)
    assert loss.item() == pytest.approx(
        reference_nkd(logit_s, logit_t, label, temp, gamma).item(), rel=1e-5)
    # soft scores reduce to their arg-max class
    soft = F.one_hot(label, 7).float() * 0.8 + 0.2 / 7
    assert NKDLoss(temp, gamma)(logit_s, logit_t, soft).item() == pytest.approx(loss.item())


def test_nkd_gradient_only_to_student_and_amp_safe():
    logit_s = (torch.randn(4, 10) * 1e4).requires_grad_()
    logit_t = (torch.randn(4, 10) * 1e4).requires_grad_()
    loss = NKDLoss()(logit_s.half(), logit_t.half(), torch.arange(4))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logit_s.grad).all()
    assert logit_t.grad is None


def test_nkd_errors():
    with pytest.raises(ValueError, match='temperature'):
        NKDLoss(temperature=0)
    with pytest.raises(ValueError, match=r'\(4, 10\).*\(4, 9\)'):
        NKDLoss()(torch.randn(4, 10), torch.randn(4, 9), torch.arange(4))


def test_tf_nkd_hand_computed():
    # 2 samples, 2 classes, labels (0, 0). Logits give S_t = (1/2, 1/4):
    # mean S_t = 3/8, weights w = S_t + 1 - 3/8 = (9/8, 7/8);
    # L = -(9/8 log 1/2 + 7/8 log 1/4) / 2.
    logit_s = torch.tensor([[0.0, 0.0], [0.0, math.log(3)]], requires_grad=True)
    loss = TfNKDLoss()(logit_s, torch.tensor([0, 0]))
    expected = -(9 / 8 * math.log(0.5) + 7 / 8 * math.log(0.25)) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    loss.backward()
    # the soft target is detached: gradient = -w / N * d log S_t
    s = torch.softmax(logit_s.detach(), 1)
    w = torch.tensor([9 / 8, 7 / 8])
    expected_grad = -(w / 2)[:, None] * (F.one_hot(torch.tensor([0, 0]), 2) - s)
    assert torch.allclose(logit_s.grad, expected_grad, atol=1e-6)


def test_tf_nkd_soft_labels():
    # mixup of class 0 (0.7) and 1 (0.3): two target terms with values 0.7 / 0.3
    logit_s = torch.tensor([[0.0, 0.0, 0.0]])
    soft = torch.tensor([[0.7, 0.3, 0.0]])
    loss = TfNKDLoss()(logit_s, soft)
    # batch of 1: S_t - mean(S_t) = 0, so w = value
    assert loss.item() == pytest.approx(-(0.7 + 0.3) * math.log(1 / 3), rel=1e-6)
    with pytest.raises(ValueError, match='num_soft_targets'):
        TfNKDLoss(num_soft_targets=0)
