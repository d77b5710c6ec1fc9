"""weighted_knn_votes (mmext/models/layers/knn_votes.py): the shared k-NN vote."""
import math

import pytest
import torch

from mmext.models.layers import weighted_knn_votes


def test_votes_of_the_k_nearest_by_hand():
    sim = torch.tensor([[0.9, 0.1, 0.5, -0.3], [0.0, 0.2, float('-inf'), 0.4]])
    labels = torch.tensor([2, 0, 2, 1])
    votes, valid = weighted_knn_votes(sim, labels, num_classes=3, k=2, temperature=0.5)
    # row 0: keys 0 (0.9) and 2 (0.5), both class 2; row 1: keys 3 (0.4, class 1), 1 (0.2)
    w = math.exp(0.8) / (math.exp(0.8) + math.exp(0.4))
    assert votes[0].tolist() == pytest.approx([0., 0., 1.])
    assert votes[1].tolist() == pytest.approx([1 - w, w, 0.], rel=1e-6)
    assert valid.tolist() == [True, True]


def test_masked_keys_and_empty_rows():
    sim = torch.tensor([[0.3, float('-inf'), float('-inf')],
                        [float('-inf')] * 3]).requires_grad_()
    labels = torch.tensor([1, -1, -1])
    votes, valid = weighted_knn_votes(sim, labels, num_classes=2, k=3, temperature=0.1)
    # a masked key gets no weight even with a negative label; an empty row stays finite
    assert votes[0].tolist() == pytest.approx([0., 1.])
    assert valid.tolist() == [True, False]
    assert torch.isfinite(votes).all()
    votes[:, 1].sum().backward()
    assert torch.isfinite(sim.grad).all()
