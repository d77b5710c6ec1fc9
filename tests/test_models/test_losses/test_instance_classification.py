import math

import pytest
import torch
import torch.nn.functional as F

from mmext.models.losses import InstanceClassificationLoss


def test_hand_computed_value_with_hardest_class_smoothing():
    # logits z = x W^T = (1, 2, 3); label 0; the hardest other class is 2
    x = torch.tensor([[1., 2.]])
    w = torch.tensor([[1., 0.], [0., 1.], [1., 1.]])
    lse = math.log(math.e + math.e**2 + math.e**3)
    loss = InstanceClassificationLoss(smooth=0.3, topk=1)
    # target (0.7, 0, 0.3)
    assert loss(x, w, torch.tensor([0])).item() == pytest.approx(lse - 0.7 * 1 - 0.3 * 3,
                                                                rel=1e-6)
    # two hardest negatives (classes 2 and 1) share 0.3
    loss2 = InstanceClassificationLoss(smooth=0.3, topk=2)
    assert loss2(x, w, torch.tensor([0])).item() == pytest.approx(
        lse - 0.7 * 1 - 0.15 * 3 - 0.15 * 2, rel=1e-6)
    # the true class is never one of the negatives: label 2, hardest other class is 1
    assert loss(x, w, torch.tensor([2])).item() == pytest.approx(lse - 0.7 * 3 - 0.3 * 2,
                                                                rel=1e-6)
    plain = InstanceClassificationLoss(smooth=0.)
    assert plain(x, w, torch.tensor([1])).item() == pytest.approx(lse - 2, rel=1e-6)


def test_gradients_match_autograd_reference():
    torch.manual_seed(0)
    x = torch.randn(6, 4, requires_grad=True)
    w = torch.randn(9, 4, requires_grad=True)
    y = torch.tensor([0, 8, 3, 3, 5, 1])
    loss = InstanceClassificationLoss(smooth=0.2, topk=3, loss_weight=2.)(x, w, y, 0, 9)
    loss.backward()
    xr, wr = x.detach().clone().requires_grad_(), w.detach().clone().requires_grad_()
    logits = xr @ wr.t()
    masked = logits.detach().clone()
    masked[torch.arange(6), y] = float('-inf')
    target = F.one_hot(y, 9) * 0.8
    target.scatter_(1, masked.topk(3, dim=1).indices, 0.2 / 3)
    ref = 2 * -(F.log_softmax(logits, 1) * target).sum(1).mean()
    ref.backward()
    assert torch.allclose(loss, ref)
    assert torch.allclose(x.grad, xr.grad, atol=1e-6)
    assert torch.allclose(w.grad, wr.grad, atol=1e-6)


def test_bad_values():
    with pytest.raises(ValueError, match='smooth'):
        InstanceClassificationLoss(smooth=1.)
    with pytest.raises(ValueError, match='topk'):
        InstanceClassificationLoss(smooth=0.1, topk=0)
    with pytest.raises(ValueError, match='topk'):
        InstanceClassificationLoss(smooth=0.1, topk=5)(
            torch.randn(2, 3), torch.randn(4, 3), torch.tensor([0, 1]), 0, 4)


def test_fp32_under_autocast():
    torch.manual_seed(0)
    x, w, y = torch.randn(4, 8), torch.randn(6, 8), torch.tensor([0, 1, 2, 5])
    loss = InstanceClassificationLoss(smooth=0.1, topk=2)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = loss(x, w, y)
    assert out.dtype == torch.float32 and torch.allclose(out, loss(x, w, y), atol=1e-6)
