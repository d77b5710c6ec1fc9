"""Weighted k-nearest-neighbour class votes, shared by the kNN heads and losses.

A query's ``k`` most similar keys vote for their labels with weights
``softmax(sim / temperature)`` over those ``k`` (the rule of Wu et al.'s instance-discrimination
kNN classifier, as used by :class:`mmext.AdaNPCHead` at test time and :class:`mmext.LOOKLoss`
in training).
"""
from typing import Tuple

import torch
import torch.nn.functional as F

__all__ = ['weighted_knn_votes']


def weighted_knn_votes(sim: torch.Tensor, key_labels: torch.Tensor, num_classes: int, k: int,
                       temperature: float) -> Tuple[torch.Tensor, torch.Tensor]:
    """Class votes of the ``k`` keys most similar to each query.

    Args:
        sim (Tensor): Query-key similarities, ``(B, N)``; ``-inf`` marks a key that must not
            vote for that query (an empty memory slot, the query itself).
        key_labels (Tensor): Labels of the keys, ``(N, )``; entries of ignored keys may be
            negative.
        num_classes (int): Number of classes ``C``.
        k (int): Number of neighbours (``min(k, N)`` are used).
        temperature (float): Temperature of the softmax over the ``k`` similarities.

    Returns:
        tuple[Tensor, Tensor]: Votes ``(B, C)`` (each row sums to 1) and a ``(B, )`` mask of
        the queries with at least one valid key; the votes of the other rows are meaningless
        but finite, so no NaN reaches a backward pass.
    """
    top_sim, top_idx = sim.topk(min(k, sim.size(1)), dim=1)  # (B, k)
    has_valid = torch.isfinite(top_sim[:, 0])
    # with fewer than k valid keys the -inf ones get weight 0; a row without any is computed on
    # zeros instead of NaN
    top_sim = top_sim.masked_fill(~has_valid.unsqueeze(1), 0.)
    weights = F.softmax(top_sim / temperature, dim=1)
    # ignored keys carry weight 0, so the class they are scattered to does not matter
    labels = key_labels[top_idx].clamp_min(0)
    votes = weights.new_zeros(sim.size(0), num_classes).scatter_add_(1, labels, weights)
    return votes, has_valid
