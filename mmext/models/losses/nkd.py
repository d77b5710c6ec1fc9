"""NKD and tf-NKD (Yang et al., "Rethinking Knowledge Distillation via Cross-Entropy",
arXiv 2208.10139; official code: yzd-v/cls_KD)."""
from typing import Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmext.registry import MODELS

__all__ = ['NKDLoss', 'TfNKDLoss']


def _target_labels(gt_label: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Hard labels ``(N, 1)`` from hard labels ``(N,)`` or soft scores ``(N, C)``.

    Soft scores (mixup / cutmix / label smoothing) are reduced to their arg-max class, as in the
    official implementation.
    """
    if gt_label.dim() == 2:
        if gt_label.size(1) != num_classes:
            raise ValueError(f'soft labels must have shape (N, {num_classes}), '
                             f'got {tuple(gt_label.shape)}')
        return gt_label.argmax(dim=1, keepdim=True)
    return gt_label.reshape(-1, 1).long()


def _check_logits(logit_s: torch.Tensor, logit_t: torch.Tensor = None) -> None:
    if logit_s.dim() != 2:
        raise ValueError(f'NKD expects (N, C) logits, got student {tuple(logit_s.shape)}')
    if logit_t is not None and logit_t.shape != logit_s.shape:
        raise ValueError(f'student logits {tuple(logit_s.shape)} and teacher logits '
                         f'{tuple(logit_t.shape)} must have the same shape')


@MODELS.register_module()
class NKDLoss(nn.Module):
    """Normalized knowledge distillation loss (NKD).

    From "Rethinking Knowledge Distillation via Cross-Entropy" (Yang et al., arXiv 2208.10139).
    The classical KD loss is split into a target part and a non-target part. The target part is
    a cross-entropy whose soft target is the teacher's target probability ``T_t``; the non-target
    part compares the *normalized* non-target distributions (softmax over the ``C - 1`` non-target
    logits, so both sum to one) of teacher and student::

        L = -mean_n(T_t * log S_t) - gamma * tau^2 * mean_n(sum_{i != t} T^_i * log S^_i)

    It is added to the student's own cross-entropy.

    Args:
        temperature (float): Temperature ``tau`` of the normalized non-target distributions.
            Defaults to 1.0 (paper).
        gamma (float): Weight of the non-target term. Defaults to 1.5 (paper, CNN students);
            the paper uses 1.0 for ViT students.
    """

    # read by :class:`mmext.Distiller` to decide which inputs the loss receives
    requires_teacher = True
    requires_label = True

    def __init__(self, temperature: float = 1.0, gamma: float = 1.5) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f'"temperature" must be > 0, got {temperature}')
        if gamma < 0:
            raise ValueError(f'"gamma" must be >= 0, got {gamma}')
        self.temperature = temperature
        self.gamma = gamma

    def forward(self, logit_s: torch.Tensor, logit_t: torch.Tensor,
                gt_label: torch.Tensor) -> torch.Tensor:
        """Compute the loss.

        Args:
            logit_s (Tensor): Student logits, shape ``(N, C)``.
            logit_t (Tensor): Teacher logits, shape ``(N, C)``.
            gt_label (Tensor): Labels ``(N,)`` or soft scores ``(N, C)``.

        Returns:
            Tensor: Scalar loss.
        """
        _check_logits(logit_s, logit_t)
        n, c = logit_s.shape
        label = _target_labels(gt_label, c)
        # fp32 log-sum-exp: AMP-safe for large logits
        logit_s = logit_s.float()
        logit_t = logit_t.detach().float()

        log_s = F.log_softmax(logit_s, dim=1)
        p_t = F.softmax(logit_t, dim=1)
        loss_target = -(p_t.gather(1, label) * log_s.gather(1, label)).mean()

        # Dropping the target column (rather than masking it with -inf) keeps every entry
        # finite, so neither 0 * log(0) nor inf - inf can appear. (N, C) -> (N, C - 1)
        non_target = torch.ones_like(logit_s, dtype=torch.bool).scatter_(1, label, False)
        ns_s = logit_s[non_target].reshape(n, c - 1) / self.temperature
        ns_t = logit_t[non_target].reshape(n, c - 1) / self.temperature
        loss_non = -(F.softmax(ns_t, dim=1) * F.log_softmax(ns_s, dim=1)).sum(dim=1).mean()
        return loss_target + self.gamma * self.temperature**2 * loss_non


@MODELS.register_module()
class TfNKDLoss(nn.Module):
    """Teacher-free NKD loss (tf-NKD).

    From "Rethinking Knowledge Distillation via Cross-Entropy" (Yang et al., arXiv 2208.10139).
    Without a teacher, the soft target of the target class is built from the student itself: its
    target probability ``S_t`` smoothed over the batch, ``w_t = S_t + V_t - mean_batch(S_t)``
    (``V_t`` is the label value, 1 for hard labels), detached, and the loss is
    ``-mean_n(w_t * log S_t)``. With soft labels (mixup / cutmix) the two largest label values
    each contribute such a term, as in the official code. It is added to the student's own
    cross-entropy.

    Args:
        num_soft_targets (int): How many label entries form targets when labels are soft
            scores. Defaults to 2 (two mixed images, official code).
    """

    requires_teacher = False
    requires_label = True

    def __init__(self, num_soft_targets: int = 2) -> None:
        super().__init__()
        if num_soft_targets < 1:
            raise ValueError(f'"num_soft_targets" must be >= 1, got {num_soft_targets}')
        self.num_soft_targets = num_soft_targets

    def _targets(self, gt_label: torch.Tensor,
                 num_classes: int) -> Tuple[torch.Tensor, torch.Tensor]:
        if gt_label.dim() == 2:
            if gt_label.size(1) != num_classes:
                raise ValueError(f'soft labels must have shape (N, {num_classes}), '
                                 f'got {tuple(gt_label.shape)}')
            value, label = gt_label.float().topk(min(self.num_soft_targets, num_classes), dim=1)
            return label, value
        label = gt_label.reshape(-1, 1).long()
        return label, torch.ones_like(label, dtype=torch.float)

    def forward(self, logit_s: torch.Tensor, gt_label: torch.Tensor) -> torch.Tensor:
        """Compute the loss.

        Args:
            logit_s (Tensor): Student logits, shape ``(N, C)``.
            gt_label (Tensor): Labels ``(N,)`` or soft scores ``(N, C)``.

        Returns:
            Tensor: Scalar loss.
        """
        _check_logits(logit_s)
        label, value = self._targets(gt_label, logit_s.size(1))
        log_s = F.log_softmax(logit_s.float(), dim=1).gather(1, label)  # (N, K)
        s_t = log_s.detach().exp()
        # batch smoothing of the student's own target probability; entries of zero label value
        # (a soft label with a single class) carry no target
        weight = (s_t + value - s_t.mean(dim=0, keepdim=True)) * (value > 0)
        return -(weight * log_s).mean(dim=0).sum()
