"""LOOK: leave-one-out k-nearest-neighbour loss (Feng et al., ICLR 2022, arXiv 2110.06014)."""
from typing import Optional

import torch
import torch.nn as nn

from mmext.registry import MODELS
from ..layers.knn_votes import weighted_knn_votes

__all__ = ['LOOKLoss', 'leave_one_out_knn_loss']


def leave_one_out_knn_loss(query: torch.Tensor,
                           query_labels: torch.Tensor,
                           keys: torch.Tensor,
                           key_labels: torch.Tensor,
                           num_classes: int,
                           k: int,
                           temperature: float,
                           exclude: Optional[torch.Tensor] = None,
                           eps: float = 1e-6) -> torch.Tensor:
    """Per-sample negative log-probability of the true class under a weighted kNN classifier.

    For query ``i`` the ``k`` keys most cosine-similar to it vote with weights
    ``softmax(s_ij / temperature)`` over those ``k``; the loss is ``-log`` of the total weight
    of the neighbours that share the query's label. Keys with a negative label (empty memory
    slots) and the key ``exclude[i]`` (the query itself: leave-one-out) are never neighbours.

    Args:
        query (Tensor): L2-normalised query features, ``(B, D)``.
        query_labels (Tensor): Labels of the queries in ``[0, num_classes)``, ``(B, )``.
        keys (Tensor): L2-normalised candidate neighbours, ``(N, D)``.
        key_labels (Tensor): Labels of the keys, ``(N, )``; ``-1`` marks a key to ignore.
        num_classes (int): Number of classes.
        k (int): Number of neighbours.
        temperature (float): Temperature of the neighbour weights.
        exclude (Tensor, optional): Index into ``keys`` of each query's own entry, ``(B, )``;
            ``-1`` for none. Defaults to None.
        eps (float): Lower bound of the true-class probability inside the log: a query with no
            same-class neighbour among its ``k`` gets ``-log(eps)`` and no gradient.
            Defaults to 1e-6.

    Returns:
        Tensor: Losses ``(B, )``; NaN for a query without any valid neighbour.
    """
    # (B, D) x (N, D)^T -> (B, N)
    sim = query @ keys.t()
    invalid = (key_labels < 0).unsqueeze(0).expand_as(sim).clone()
    if exclude is not None:
        rows = torch.nonzero(exclude >= 0).squeeze(1)
        invalid[rows, exclude[rows]] = True
    votes, has_valid = weighted_knn_votes(
        sim.masked_fill(invalid, float('-inf')), key_labels, num_classes, k, temperature)
    prob = votes.gather(1, query_labels.view(-1, 1)).squeeze(1)
    losses = -prob.clamp_min(eps).log()
    return torch.where(has_valid, losses, torch.full_like(losses, float('nan')))


@MODELS.register_module()
class LOOKLoss(nn.Module):
    """Leave-one-out kNN loss of LOOK.

    From "Rethinking Supervised Pre-training for Better Downstream Transferring" (Feng et al.,
    ICLR 2022, arXiv 2110.06014). Instead of pulling every sample of a class towards one
    classifier weight (cross-entropy), each sample is classified by a weighted vote of its
    ``k`` nearest neighbours among the *other* training samples, and the loss is the negative
    log-likelihood of that vote. A sample only has to agree with most of its neighbours, so a
    class may keep several modes (sub-classes), which transfer better to new tasks.

    The neighbours and their labels come from :class:`mmext.LOOKHead` (a memory bank of the
    training set); this module averages :func:`leave_one_out_knn_loss` over the queries that
    have at least one valid neighbour.

    Args:
        num_classes (int): Number of classes.
        k (int): Number of neighbours. Defaults to 200 (ours; see configs/look/README.md).
        temperature (float): Temperature of the neighbour weights. Defaults to 0.07 (ours).
        eps (float): Lower bound of the true-class probability. Defaults to 1e-6.
        loss_weight (float): Weight of the loss. Defaults to 1.0.
    """

    def __init__(self,
                 num_classes: int,
                 k: int = 200,
                 temperature: float = 0.07,
                 eps: float = 1e-6,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f'"num_classes" must be >= 2, got {num_classes}')
        if not isinstance(k, int) or k < 1:
            raise ValueError(f'"k" must be an int >= 1, got {k}')
        if temperature <= 0:
            raise ValueError(f'"temperature" must be > 0, got {temperature}')
        if not 0 < eps < 1:
            raise ValueError(f'"eps" must be in (0, 1), got {eps}')
        self.num_classes = num_classes
        self.k = k
        self.temperature = temperature
        self.eps = eps
        self.loss_weight = loss_weight

    def forward(self,
                query: torch.Tensor,
                query_labels: torch.Tensor,
                keys: torch.Tensor,
                key_labels: torch.Tensor,
                exclude: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Mean leave-one-out kNN loss; arguments as :func:`leave_one_out_knn_loss`."""
        if query.dim() != 2 or keys.dim() != 2 or query.size(1) != keys.size(1):
            raise ValueError(f'"query" (B, D) and "keys" (N, D) must share D, got '
                             f'{tuple(query.shape)} and {tuple(keys.shape)}')
        # fp32 even under autocast: 1 / temperature amplifies fp16 rounding of the similarities
        with torch.autocast(device_type=query.device.type, enabled=False):
            losses = leave_one_out_knn_loss(query.float(), query_labels, keys.float(),
                                            key_labels, self.num_classes, self.k,
                                            self.temperature, exclude, self.eps)
        valid = torch.isfinite(losses)
        if not valid.any():
            # nothing to compare with yet: a zero that keeps the graph
            return query.sum() * 0.
        return self.loss_weight * losses[valid].mean()
