"""DR Loss: Improving Object Detection by Distributional Ranking (arXiv 1907.10156)."""
import math
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmext.registry import MODELS

__all__ = ['DRLoss']


def _weighted_expectation(prob: Tensor, lam: float, sign: float) -> Tensor:
    """Expectation of ``prob`` under the entropy-regularised worst-case distribution.

    The closed-form maximiser of ``sum_j q_j * (sign * p_j) + lam * H(q)`` over the simplex is
    ``q = softmax(sign * p / lam)``; ``F.softmax`` subtracts the max first, so a small ``lam``
    (sharp distribution) cannot overflow.

    Args:
        prob (Tensor): Probabilities of one kind of candidates, shape (M, ).
        lam (float): Entropy weight (temperature) of the derived distribution.
        sign (float): ``+1`` up-weights large scores (negatives), ``-1`` small ones (positives).

    Returns:
        Tensor: Scalar expectation ``sum_j q_j p_j``.
    """
    q = F.softmax(sign * prob / lam, dim=0)
    return (q * prob).sum()


@MODELS.register_module()
class DRLoss(nn.Module):
    """Distributional ranking (DR) loss for one-stage detectors.

    From "DR Loss: Improving Object Detection by Distributional Ranking" (Qian et al., CVPR 2020,
    arXiv 1907.10156). For each image, the sigmoid confidences of the foreground (anchor, its
    class) pairs and of all background pairs are each re-weighted into a worst-case distribution
    (entropy-regularised, so hard negatives / hard positives dominate); the loss ranks the
    expectation of the positive distribution above the negative one by a margin with a smoothed
    logistic loss ``tau / L * log(1 + exp(L * (E_neg - E_pos + margin)))``. Images without
    positives use ``E_pos = 1``.

    The loss is defined over *all* candidates of one image together and is not normalised by the
    number of positives, so it cannot be called level by level like focal loss: use it through
    :class:`mmext.DRRetinaHead`, which gathers every level's scores of an image first. Calling it
    with an ``avg_factor`` (what the stock mmdet ``AnchorHead`` does) raises an error instead of
    silently computing a different loss.

    Defaults are the constants of the official implementation (idstcv/DR_loss,
    ``sigmoid_dr_loss.py``): ``pos_lambda=1``, ``neg_lambda=0.1 / log(3.5)``, ``L=6``, ``tau=4``,
    ``margin=0.5``.

    Args:
        use_sigmoid (bool): Must be True; the loss works on per-class sigmoid scores (mmdet reads
            this key to size the classifier without a background channel). Defaults to True.
        pos_lambda (float): Entropy weight of the positive distribution. Defaults to 1.0.
        neg_lambda (float): Entropy weight of the negative distribution; small values focus on
            the hardest negatives. Defaults to ``0.1 / log(3.5)``.
        L (float): Smoothness of the logistic ranking loss. Defaults to 6.0.
        tau (float): Scale of the loss. Defaults to 4.0.
        margin (float): Required gap between the positive and negative expectations.
            Defaults to 0.5.
        reduction (str): How per-image losses of a batch are combined: ``'mean'``, ``'sum'`` or
            ``'none'``. Defaults to ``'mean'``.
        loss_weight (float): Weight of the loss. Defaults to 1.0.
    """

    def __init__(self,
                 use_sigmoid: bool = True,
                 pos_lambda: float = 1.0,
                 neg_lambda: float = 0.1 / math.log(3.5),
                 L: float = 6.0,
                 tau: float = 4.0,
                 margin: float = 0.5,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if not use_sigmoid:
            raise ValueError('"use_sigmoid" must be True: DRLoss ranks per-class sigmoid scores')
        for name, value in dict(pos_lambda=pos_lambda, neg_lambda=neg_lambda, L=L,
                                tau=tau).items():
            if value <= 0:
                raise ValueError(f'"{name}" must be > 0, got {value}')
        if reduction not in ('mean', 'sum', 'none'):
            raise ValueError(f'"reduction" must be "mean", "sum" or "none", got {reduction!r}')
        self.use_sigmoid = use_sigmoid
        self.pos_lambda = pos_lambda
        self.neg_lambda = neg_lambda
        self.L = L
        self.tau = tau
        self.margin = margin
        self.reduction = reduction
        self.loss_weight = loss_weight

    def _single_image(self, logits: Tensor, labels: Tensor, valid: Tensor) -> Tensor:
        """DR loss of one image.

        Args:
            logits (Tensor): Scores of all candidates of the image, shape (N, C).
            labels (Tensor): Class index per candidate, ``C`` (or any value outside [0, C)) is
                background, shape (N, ).
            valid (Tensor): Bool mask of candidates that take part, shape (N, ).

        Returns:
            Tensor: Scalar loss.
        """
        num_classes = logits.size(1)
        # fp32 so that the sharp negative softmax stays exact under AMP
        prob = logits.float().sigmoid()
        classes = torch.arange(num_classes, device=logits.device)
        pos_mask = (labels[:, None] == classes[None, :]) & valid[:, None]
        neg_mask = valid[:, None] & ~pos_mask
        neg_prob = prob[neg_mask]
        pos_prob = prob[pos_mask]
        neg_dist = (_weighted_expectation(neg_prob, self.neg_lambda, 1.0)
                    if neg_prob.numel() > 0 else prob.new_zeros(()))
        pos_dist = (_weighted_expectation(pos_prob, self.pos_lambda, -1.0)
                    if pos_prob.numel() > 0 else prob.new_ones(()))
        # softplus(x) = log(1 + exp(x)) without overflow
        return self.tau / self.L * F.softplus(self.L * (neg_dist - pos_dist + self.margin))

    def forward(self,
                cls_score: Tensor,
                labels: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None) -> Tensor:
        """Compute the DR loss.

        Args:
            cls_score (Tensor): Logits of all candidates of one image, shape (N, C), or of a batch
                of images, shape (B, N, C).
            labels (Tensor): Targets in mmdet convention (``C`` is background), shape (N, ) or
                (B, N).
            weight (Tensor, optional): Per-candidate weight, shape like ``labels``; candidates
                with weight 0 (ignored anchors) are left out. Defaults to None.
            avg_factor (float, optional): Not supported (the loss is not normalised by the
                positive count); must be None.
            reduction_override (str, optional): Overrides ``reduction``. Defaults to None.

        Returns:
            Tensor: The loss (per image if the reduction is ``'none'``).
        """
        if avg_factor is not None:
            raise ValueError(
                'DRLoss ranks all candidates of an image together and takes no "avg_factor"; '
                'use it as "loss_cls" of mmext.DRRetinaHead, not of a per-level mmdet head')
        reduction = reduction_override if reduction_override else self.reduction
        batched = cls_score.dim() == 3
        shapes = f'{tuple(cls_score.shape)} and {tuple(labels.shape)}'
        if not batched:
            cls_score, labels = cls_score[None], labels[None]
            weight = weight[None] if weight is not None else None
        if cls_score.dim() != 3 or labels.shape != cls_score.shape[:2]:
            raise ValueError('DRLoss expects cls_score (N, C) / (B, N, C) and labels (N, ) / '
                             f'(B, N), got {shapes}')
        if weight is None:
            valid = torch.ones_like(labels, dtype=torch.bool)
        else:
            valid = weight.reshape(labels.shape) > 0
        losses = torch.stack([
            self._single_image(s, lbl, v) for s, lbl, v in zip(cls_score, labels, valid)
        ])
        if reduction == 'mean':
            loss = losses.mean()
        elif reduction == 'sum':
            loss = losses.sum()
        else:
            loss = losses if batched else losses[0]
        return self.loss_weight * loss
