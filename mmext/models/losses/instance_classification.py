"""Instance-classification loss of the one-million-way instance classifier (arXiv 2102.04848)."""
from typing import Optional

import torch
import torch.nn as nn

from mmext.registry import MODELS
from ..layers.sharded_linear import sharded_soft_cross_entropy

__all__ = ['InstanceClassificationLoss']


@MODELS.register_module()
class InstanceClassificationLoss(nn.Module):
    """Cross-entropy over all instance classes with the labels smoothed onto the hardest ones.

    From "Train a One-Million-Way Instance Classifier for Unsupervised Visual Representation
    Learning" (Liu et al., AAAI 2021, arXiv 2102.04848). Near-duplicate images make some
    negative classes almost indistinguishable from the positive one; the paper smooths the
    label of each image over "a few hardest classes" instead of pushing them all away. Here
    the target is ``1 - smooth`` on the image's own class and ``smooth / topk`` on each of the
    ``topk`` other classes with the highest logits (chosen without gradient, over the full
    class set when the classifier is sharded). No official code was found: the form of the
    smoothing follows the paper's description, and ``smooth`` / ``topk`` defaults are ours.

    Args:
        smooth (float): Label mass given to the hardest negatives; 0 is plain cross-entropy.
            Defaults to 0.1.
        topk (int): Number of hardest negatives sharing it. Defaults to 5.
        loss_weight (float): Weight of the loss. Defaults to 1.0.
    """

    def __init__(self, smooth: float = 0.1, topk: int = 5, loss_weight: float = 1.0) -> None:
        super().__init__()
        if not 0 <= smooth < 1:
            raise ValueError(f'"smooth" must be in [0, 1), got {smooth}')
        if smooth > 0 and (int(topk) != topk or topk < 1):
            raise ValueError(f'"topk" must be an int >= 1 when smooth > 0, got {topk}')
        self.smooth = smooth
        self.topk = int(topk)
        self.loss_weight = loss_weight

    def forward(self,
                x: torch.Tensor,
                weight: torch.Tensor,
                labels: torch.Tensor,
                offset: int = 0,
                num_classes: Optional[int] = None) -> torch.Tensor:
        """Compute the loss over the global batch (see :func:`sharded_soft_cross_entropy`).

        Args:
            x (Tensor): This rank's (normalised, temperature-scaled) features, ``(n, d)``.
            weight (Tensor): This rank's class weights, ``(C_r, d)``.
            labels (Tensor): Instance index of each row, ``(n, )``.
            offset (int): Global index of the shard's first class. Defaults to 0.
            num_classes (int, optional): Total number of classes, to check ``topk``.

        Returns:
            Tensor: Scalar loss.
        """
        if num_classes is not None and self.smooth > 0 and self.topk > num_classes - 1:
            raise ValueError(f'"topk" ({self.topk}) must be below the number of classes '
                             f'({num_classes})')
        loss = sharded_soft_cross_entropy(x, weight, labels, offset, self.smooth, self.topk)
        return self.loss_weight * loss
