"""Cluster-discrimination loss of CoKe (Qian et al., CVPR 2022, arXiv 2105.11527)."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmext.registry import MODELS

__all__ = ['CoKeLoss']


@MODELS.register_module()
class CoKeLoss(nn.Module):
    """Cross-entropy of one view's cluster logits against a hard and a soft target.

    From "Unsupervised Visual Representation Learning by Online Constrained K-Means" (Qian et
    al., CVPR 2022, arXiv 2105.11527). A view is classified into the clusters of the previous
    epoch; its target mixes the cluster the instance was assigned to in the previous epoch
    (weight ``alpha``) with the soft assignment predicted from the other view(s)
    (``softmax`` of their projection logits, no gradient; weight ``1 - alpha``):

    ``alpha * CE(logits, label) - (1 - alpha) * mean_i sum_k soft_ik * log_softmax(logits)_ik``

    As in the official code (idstcv/CoKe, ``main_multi_view.py``) the soft target of a small
    crop is the *sum* of the two large views' soft assignments (its mass is 2), and its hard
    term is weighted ``2 * alpha``: pass ``hard_weight=2`` for small crops.

    Args:
        alpha (float): Weight of the hard (one-hot) target. Defaults to 0.2 (official
            ``--coke-alpha``).
    """

    def __init__(self, alpha: float = 0.2) -> None:
        super().__init__()
        if not 0. <= alpha <= 1.:
            raise ValueError(f'"alpha" must be in [0, 1], got {alpha}')
        self.alpha = alpha

    def forward(self,
                logits: torch.Tensor,
                labels: torch.Tensor,
                soft_target: Optional[torch.Tensor] = None,
                hard_weight: float = 1.) -> torch.Tensor:
        """Compute the loss of one view.

        Args:
            logits (Tensor): Cluster logits (cosine to the centres / temperature), ``(B, K)``.
            labels (Tensor): Cluster of each instance in the previous epoch, ``(B, )``.
            soft_target (Tensor, optional): Soft assignment from the other view(s), ``(B, K)``;
                None uses the hard term alone (weight ``alpha``). Defaults to None.
            hard_weight (float): Extra factor of the hard term (2 for small crops).

        Returns:
            Tensor: Scalar loss, averaged over the batch.
        """
        if logits.dim() != 2 or labels.shape != logits.shape[:1]:
            raise ValueError(f'"logits" must be (B, K) and "labels" (B, ), got '
                             f'{tuple(logits.shape)} and {tuple(labels.shape)}')
        logits = logits.float()
        loss = self.alpha * hard_weight * F.cross_entropy(logits, labels)
        if soft_target is not None:
            if soft_target.shape != logits.shape:
                raise ValueError(f'"soft_target" must have the shape of "logits" '
                                 f'{tuple(logits.shape)}, got {tuple(soft_target.shape)}')
            soft_ce = -(F.log_softmax(logits, dim=1) * soft_target.float()).sum(1).mean()
            loss = loss + (1. - self.alpha) * soft_ce
        return loss
