"""mmext.LOOKLoss / leave_one_out_knn_loss (mmext/models/losses/look.py) on hand-made points."""
import math

import pytest
import torch

from mmext.models.losses import LOOKLoss
from mmext.models.losses.look import leave_one_out_knn_loss

# unit vectors in 2-D; the query is keys[0]
KEYS = torch.tensor([[1., 0.], [0.6, 0.8], [0.8, 0.6], [0., 1.], [-1., 0.]])
KEY_LABELS = torch.tensor([0, 0, 1, 1, 0])
QUERY = torch.tensor([[1., 0.]])
LABEL = torch.tensor([0])


def _loss(k, exclude, labels=KEY_LABELS, temperature=0.5, query=QUERY):
    return leave_one_out_knn_loss(query, LABEL, KEYS, labels, num_classes=2, k=k,
                                  temperature=temperature, exclude=exclude)


def test_leave_one_out_excludes_the_query_and_picks_the_k_nearest():
    # query . keys = [1, 0.6, 0.8, 0, -1]; without key 0 the 2 nearest are key 2 (0.8, class 1)
    # and key 1 (0.6, class 0): p(0) = e^(0.6/0.5) / (e^(0.8/0.5) + e^(0.6/0.5))
    p = math.exp(1.2) / (math.exp(1.6) + math.exp(1.2))
    assert _loss(2, torch.tensor([0])).item() == pytest.approx(-math.log(p), rel=1e-5)
    # k = 3 adds key 3 (sim 0, class 1), never the far key 4
    p3 = math.exp(1.2) / (math.exp(1.6) + math.exp(1.2) + 1.)
    assert _loss(3, torch.tensor([0])).item() == pytest.approx(-math.log(p3), rel=1e-5)
    # not left out, the query is its own nearest neighbour: keys 0 (1.0) and 2 (0.8)
    p_self = math.exp(2.) / (math.exp(2.) + math.exp(1.6))
    assert _loss(2, None).item() == pytest.approx(-math.log(p_self), rel=1e-5)
    assert _loss(2, torch.tensor([-1])).item() == pytest.approx(-math.log(p_self), rel=1e-5)


def test_empty_slots_are_never_neighbours():
    # key 2 (the nearest other key) is an empty slot: the 2 nearest become keys 1 and 3
    labels = torch.tensor([0, 0, -1, 1, 0])
    p = math.exp(1.2) / (math.exp(1.2) + 1.)
    assert _loss(2, torch.tensor([0]), labels).item() == pytest.approx(-math.log(p), rel=1e-5)
    # fewer valid keys than k: the missing ones get no weight
    labels = torch.tensor([0, 0, -1, -1, -1])
    assert _loss(4, torch.tensor([0]), labels).item() == pytest.approx(0., abs=1e-6)
    # none valid: NaN (the module skips such rows)
    labels = torch.full((5, ), -1)
    assert torch.isnan(_loss(2, torch.tensor([0]), labels)).all()


def test_no_same_class_neighbour_costs_log_eps_without_gradient():
    labels = torch.tensor([0, 1, 1, 1, 1])
    query = QUERY.clone().requires_grad_()
    loss = _loss(2, torch.tensor([0]), labels, query=query)
    assert loss.item() == pytest.approx(-math.log(1e-6), rel=1e-6)
    loss.sum().backward()
    assert torch.count_nonzero(query.grad) == 0


def test_gradient_matches_finite_differences():
    torch.manual_seed(0)
    query = torch.nn.functional.normalize(torch.randn(3, 4, dtype=torch.float64), dim=1)
    keys = torch.nn.functional.normalize(torch.randn(7, 4, dtype=torch.float64), dim=1)
    key_labels = torch.tensor([0, 1, 2, 0, 1, 2, -1])
    labels = torch.tensor([0, 1, 2])

    def f(q):
        return leave_one_out_knn_loss(q, labels, keys, key_labels, 3, k=4, temperature=0.3,
                                      exclude=torch.tensor([0, -1, 5]))

    assert torch.autograd.gradcheck(f, (query.requires_grad_(), ))


def test_module_averages_valid_rows_and_keeps_the_graph():
    loss_fn = LOOKLoss(num_classes=2, k=2, temperature=0.5, loss_weight=2.)
    query = torch.cat([QUERY, torch.tensor([[0., 1.]])]).requires_grad_()
    labels = torch.tensor([0, 1])
    per_row = leave_one_out_knn_loss(query, labels, KEYS, KEY_LABELS, 2, 2, 0.5,
                                     torch.tensor([0, 3]))
    loss = loss_fn(query, labels, KEYS, KEY_LABELS, torch.tensor([0, 3]))
    assert loss.item() == pytest.approx(2. * per_row.mean().item(), rel=1e-6)
    loss.backward()
    assert query.grad.abs().sum() > 0
    # nothing valid yet (an empty memory): zero loss, still differentiable
    empty = loss_fn(query, labels, KEYS, torch.full((5, ), -1))
    assert empty.item() == 0 and empty.requires_grad


@pytest.mark.parametrize('kwargs, match', [
    (dict(k=0), '"k"'),
    (dict(k=2.5), '"k"'),
    (dict(temperature=0.), 'temperature'),
    (dict(eps=1.), 'eps'),
    (dict(num_classes=1), 'num_classes'),
])
def test_bad_config(kwargs, match):
    cfg = dict(num_classes=3)
    cfg.update(kwargs)
    with pytest.raises(ValueError, match=match):
        LOOKLoss(**cfg)


def test_shape_error_names_the_tensors():
    with pytest.raises(ValueError, match='query'):
        LOOKLoss(num_classes=2)(torch.randn(2, 3), torch.tensor([0, 1]), torch.randn(4, 5),
                                torch.tensor([0, 1, 0, 1]))
