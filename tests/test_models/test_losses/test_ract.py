import math

import pytest
import torch
import torch.nn.functional as F

from mmext.models.losses import RACTLoss, embedding_of


def _reference(new, old, labels, t, reg_free, topk=-1):
    """The official calculate_loss ('contra' / 'contra_reg_free'), one sample at a time."""
    new, old = F.normalize(new, dim=1), F.normalize(old, dim=1)
    losses = []
    for i in range(new.size(0)):
        neg = [j for j in range(new.size(0)) if labels[j] != labels[i]]
        n2o = torch.stack([new[i] @ old[j] for j in neg]) if neg else torch.zeros(0)
        n2n = torch.stack([new[i] @ new[j] for j in neg]) if neg else torch.zeros(0)
        if topk > 0:
            n2o, n2n = n2o.sort(descending=True).values[:topk], n2n.sort(descending=True).values[:topk]
        logits = [(new[i] @ old[i]).reshape(1), n2o] + ([n2n] if reg_free else [])
        logits = torch.cat(logits) / t
        losses.append(-torch.log_softmax(logits, 0)[0])
    return torch.stack(losses).mean()


def test_ract_hand_value():
    # two samples of different classes, 2-D unit embeddings, T = 1
    new = torch.tensor([[1., 0.], [0., 1.]])
    old = torch.tensor([[1., 0.], [1., 0.]])
    loss = RACTLoss(temperature=1.0)(new, old, torch.tensor([0, 1]))
    # sample 0: pos <n0,o0> = 1, n2o neg <n0,o1> = 1, n2n neg <n0,n1> = 0
    l0 = -math.log(math.e / (math.e + math.e + 1))
    # sample 1: pos <n1,o1> = 0, n2o neg <n1,o0> = 0, n2n neg <n1,n0> = 0
    l1 = -math.log(1 / 3)
    assert loss.item() == pytest.approx((l0 + l1) / 2, rel=1e-6)
    plain = RACTLoss(temperature=1.0, regression_alleviating=False)(new, old,
                                                                    torch.tensor([0, 1]))
    assert plain.item() == pytest.approx((-math.log(1 / 2) - math.log(1 / 2)) / 2, rel=1e-6)


@pytest.mark.parametrize('reg_free,topk', [(True, -1), (False, -1), (True, 2)])
def test_ract_matches_official_layout(reg_free, topk):
    torch.manual_seed(0)
    new, old = torch.randn(8, 6), torch.randn(8, 6)
    labels = torch.tensor([0, 1, 2, 0, 1, 3, 3, 2])
    loss = RACTLoss(0.05, topk, reg_free)(new, old, labels)
    assert loss.item() == pytest.approx(_reference(new, old, labels, 0.05, reg_free, topk).item(),
                                        rel=1e-5)


def test_ract_gradient_reaches_new_only_and_accepts_neck_tuples():
    new = torch.randn(4, 3, requires_grad=True)
    old = torch.randn(4, 3, requires_grad=True)
    RACTLoss()((new, ), (old, ), torch.tensor([0, 1, 0, 1])).backward()
    assert new.grad.abs().sum() > 0 and old.grad is None
    assert embedding_of(torch.ones(2, 5, 3, 3)).shape == (2, 5)
    with pytest.raises(ValueError, match='same shape'):
        RACTLoss()(torch.randn(2, 3), torch.randn(2, 4), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match='temperature'):
        RACTLoss(temperature=0.)
    with pytest.raises(ValueError, match='topk_neg'):
        RACTLoss(topk_neg=0)
