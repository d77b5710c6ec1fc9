import math

import pytest
import torch

from mmext.models.losses import DRLoss

NEG_LAMBDA = 0.1 / math.log(3.5)


def reference_dr_loss(logits, labels, valid, pos_lambda=1., neg_lambda=NEG_LAMBDA, L=6., tau=4.,
                      margin=0.5):
    """Plain-loop DR loss of one image, written from the paper's definitions."""
    num_classes = logits.size(1)
    pos, neg = [], []
    for i in range(logits.size(0)):
        if not valid[i]:
            continue
        for c in range(num_classes):
            p = 1. / (1. + math.exp(-float(logits[i, c])))
            (pos if int(labels[i]) == c else neg).append(p)

    def expectation(ps, lam, sign):
        w = [math.exp(sign * p / lam) for p in ps]
        return sum(wi * p for wi, p in zip(w, ps)) / sum(w)

    e_neg = expectation(neg, neg_lambda, 1.) if neg else 0.
    e_pos = expectation(pos, pos_lambda, -1.) if pos else 1.
    return tau / L * math.log(1. + math.exp(L * (e_neg - e_pos + margin)))


def test_zero_logits_closed_form():
    # all probabilities 0.5 -> both expectations 0.5 -> tau / L * log(1 + exp(L * margin))
    loss = DRLoss()
    labels = torch.tensor([0, 3, 3, 1, 3])  # 3 == background for 3 classes
    value = loss(torch.zeros(5, 3), labels)
    assert value.item() == pytest.approx(4. / 6. * math.log(1. + math.exp(3.)), rel=1e-6)
    assert value.item() == pytest.approx(2.0324, abs=1e-4)
    # no positive: E_pos = 1 -> tau / L * log(1 + exp(0)) = 4 / 6 * log 2
    value = loss(torch.zeros(4, 3), torch.full((4, ), 3))
    assert value.item() == pytest.approx(4. / 6. * math.log(2.), rel=1e-6)


def test_matches_reference_with_ignored_anchors():
    torch.manual_seed(0)
    logits = torch.randn(30, 4) * 2
    labels = torch.randint(0, 5, (30, ))
    weight = (torch.rand(30) > 0.2).float()
    value = DRLoss()(logits, labels, weight)
    expected = reference_dr_loss(logits, labels, weight > 0)
    assert value.item() == pytest.approx(expected, rel=1e-5)


def test_batch_is_mean_of_images_and_loss_weight():
    torch.manual_seed(1)
    logits = torch.randn(3, 20, 2)
    labels = torch.randint(0, 3, (3, 20))
    per_image = [DRLoss()(logits[i], labels[i]) for i in range(3)]
    assert DRLoss()(logits, labels).item() == pytest.approx(
        torch.stack(per_image).mean().item(), rel=1e-6)
    assert DRLoss(reduction='sum', loss_weight=2.)(logits, labels).item() == pytest.approx(
        2 * torch.stack(per_image).sum().item(), rel=1e-6)
    assert DRLoss(reduction='none')(logits, labels).shape == (3, )


def test_gradient_ranks_positives_up():
    logits = torch.zeros(6, 2, requires_grad=True)
    labels = torch.tensor([0, 2, 2, 1, 2, 2])
    DRLoss()(logits, labels).backward()
    # the loss decreases when positive scores rise and negative scores fall
    assert logits.grad[0, 0] < 0 and logits.grad[3, 1] < 0
    assert logits.grad[1, 0] > 0 and logits.grad[0, 1] > 0


def test_extreme_and_half_logits_are_finite():
    logits = torch.tensor([[1e4, -1e4], [-1e4, 1e4], [60., -60.]], requires_grad=True)
    value = DRLoss()(logits, torch.tensor([0, 2, 2]))
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(logits.grad).all()
    half = DRLoss()(torch.randn(10, 3).half(), torch.randint(0, 4, (10, )))
    assert half.dtype == torch.float32 and torch.isfinite(half)


def test_bad_arguments():
    with pytest.raises(ValueError, match='use_sigmoid'):
        DRLoss(use_sigmoid=False)
    with pytest.raises(ValueError, match='"neg_lambda" must be > 0'):
        DRLoss(neg_lambda=0.)
    with pytest.raises(ValueError, match='reduction'):
        DRLoss(reduction='avg')
    with pytest.raises(ValueError, match='avg_factor'):
        DRLoss()(torch.zeros(4, 2), torch.zeros(4, dtype=torch.long), avg_factor=2)
    with pytest.raises(ValueError, match=r'\(4, 2\)'):
        DRLoss()(torch.zeros(4, 2), torch.zeros(3, dtype=torch.long))
