"""HyP^2 loss for deep hashing (Xu et al., ACM MM 2022, arXiv 2208.06866)."""
import math
from typing import Dict, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmext.registry import MODELS

__all__ = ['HyP2Loss', 'hyp2_threshold']

# Margin zeta of the proxy / pair terms: the largest cosine similarity that 2^m binary codes of
# the given length can be kept below (a code-table bound), indexed [code_length][m] with
# m = ceil(log2(num_classes)). Values copied as numbers from the official code table
# (codetable.xlsx of github.com/JerryXu0129/HyP2-Loss) for the code lengths used in hashing
# papers; pass ``threshold`` explicitly for other lengths.
_ZETA_TABLE: Dict[int, Dict[int, float]] = {
    12: {1: -1.0, 2: -1 / 3, 3: 0.0, 4: 0.0, 5: 1 / 3, 6: 1 / 3, 7: 1 / 3, 8: 0.5},
    16: {1: -1.0, 2: -0.25, 3: 0.0, 4: 0.0, 5: 0.0, 6: 0.25, 7: 0.25, 8: 0.375},
    24: {1: -1.0, 2: -1 / 3, 3: -1 / 12, 4: 0.0, 5: 0.0, 6: 1 / 6, 7: 1 / 6, 8: 1 / 3},
    32: {1: -1.0, 2: -0.3125, 3: -0.125, 4: 0.0, 5: 0.0, 6: 0.0, 7: 0.125, 8: 0.1875},
    36: {1: -1.0, 2: -1 / 3, 3: -1 / 9, 4: 0.0, 5: 1 / 18, 6: 1 / 9, 7: 1 / 9, 8: 1 / 9},
    48: {1: -1.0, 2: -1 / 3, 3: -0.125, 4: 0.0, 5: 0.0, 6: 0.0, 7: 1 / 12, 8: 1 / 12},
    64: {1: -1.0, 2: -0.3125, 3: -0.125, 4: -0.03125, 5: 0.0, 6: 0.0, 7: 0.0, 8: 0.09375},
}


def hyp2_threshold(code_length: int, num_classes: int) -> float:
    """Margin ``zeta`` of HyP^2 for a code length and a number of classes.

    Args:
        code_length (int): Number of hash bits ``K``.
        num_classes (int): Number of classes (proxies).

    Returns:
        float: The cosine margin from the official code table.

    Raises:
        ValueError: if the pair is not tabulated (then give ``threshold`` explicitly).
    """
    m = max(1, math.ceil(math.log2(num_classes)))
    if code_length not in _ZETA_TABLE or m not in _ZETA_TABLE[code_length]:
        raise ValueError(
            f'no tabulated HyP2 threshold for code_length={code_length}, '
            f'num_classes={num_classes} (tabulated code lengths: {sorted(_ZETA_TABLE)}, up to '
            f'256 classes); set "threshold" explicitly')
    return _ZETA_TABLE[code_length][m]


@MODELS.register_module()
class HyP2Loss(nn.Module):
    """Hybrid proxy-pair loss (HyP^2) with learnable hypersphere proxies.

    From "HyP^2 Loss: Beyond Hypersphere Metric Space for Multi-label Image Retrieval" (Xu et
    al., ACM MM 2022, arXiv 2208.06866). One learnable proxy per class lives on the
    hypersphere; the proxy term pulls a code towards the proxies of its labels
    (``1 - cos``) and pushes it from the others only while their cosine exceeds the margin
    ``zeta`` (``relu(cos - zeta)``), each averaged over positive / negative (sample, class)
    pairs. The pair term adds ``beta * relu(cos(x_i, x_j) - zeta)`` averaged over the pairs of
    samples sharing no label, which the proxies alone cannot express for multi-label data.

    The official code restricts the pair term to samples with more than one label; that is
    the default here (``pair_multilabel_only=True``), so on single-label data the loss is the
    proxy term only. The proxies are a parameter of the loss (the official code gives them
    their own learning rate; use ``paramwise_cfg`` on ``loss_module.proxies``).

    Args:
        num_classes (int): Number of classes (proxies).
        code_length (int): Number of hash bits ``K`` (proxy dimension).
        threshold (float, optional): Margin ``zeta``; ``None`` looks it up in the official code
            table from ``code_length`` and ``ceil(log2(num_classes))``. Defaults to None.
        beta (float): Weight of the pair term. Defaults to 0.5 (official default).
        pair_multilabel_only (bool): Build pairs from multi-label samples only (official
            behaviour). Defaults to True.
        loss_weight (float): Weight of the whole loss. Defaults to 1.0.
    """

    def __init__(self,
                 num_classes: int,
                 code_length: int,
                 threshold: Optional[float] = None,
                 beta: float = 0.5,
                 pair_multilabel_only: bool = True,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f'"num_classes" must be >= 2, got {num_classes}')
        if code_length < 2:
            raise ValueError(f'"code_length" must be >= 2, got {code_length}')
        if beta < 0:
            raise ValueError(f'"beta" must be >= 0, got {beta}')
        if threshold is None:
            threshold = hyp2_threshold(code_length, num_classes)
        elif not -1.0 <= threshold < 1.0:
            raise ValueError(f'"threshold" is a cosine margin in [-1, 1), got {threshold}')
        self.num_classes = num_classes
        self.code_length = code_length
        self.threshold = float(threshold)
        self.beta = beta
        self.pair_multilabel_only = pair_multilabel_only
        self.loss_weight = loss_weight
        self.proxies = nn.Parameter(torch.empty(num_classes, code_length))
        # fan_out Kaiming normal as in the official code; only the direction matters
        nn.init.kaiming_normal_(self.proxies, mode='fan_out')

    def _multi_hot(self, target: torch.Tensor) -> torch.Tensor:
        if target.dim() == 1:
            return F.one_hot(target.long(), self.num_classes).float()
        if target.dim() == 2 and target.size(1) == self.num_classes:
            return (target > 0).float()
        raise ValueError(f'"target" must be class indices (B, ) or multi-hot '
                         f'(B, {self.num_classes}), got {tuple(target.shape)}')

    def _loss(self, codes: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Proxy term + pair term on fp32 codes ``(B, K)``."""
        x = F.normalize(codes, dim=1)
        pos_mask = self._multi_hot(target).to(x.device)
        cos = x.matmul(F.normalize(self.proxies.float(), dim=1).t())  # (B, C)
        neg_mask = 1. - pos_mask
        pos_term = ((1. - cos) * pos_mask).sum() / pos_mask.sum().clamp_min(1.)
        neg_term = (F.relu(cos - self.threshold) * neg_mask).sum() / neg_mask.sum().clamp_min(1.)
        loss = pos_term + neg_term

        if self.beta > 0:
            keep = pos_mask.sum(1) > 1 if self.pair_multilabel_only else pos_mask.sum(1) > 0
            y, xk = pos_mask[keep], x[keep]
            irrelevant = (y.matmul(y.t()) == 0).float()  # pairs sharing no label
            if irrelevant.sum() > 0:
                pair = F.relu(xk.matmul(xk.t()) - self.threshold)
                loss = loss + self.beta * (pair * irrelevant).sum() / irrelevant.sum()
        return loss

    def forward(self, codes: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Compute the loss.

        Args:
            codes (Tensor): Real-valued codes (the raw hash-layer output), ``(B, code_length)``.
            target (Tensor): Class indices ``(B, )`` or multi-hot labels ``(B, C)``.

        Returns:
            Tensor: Scalar loss.
        """
        if codes.dim() != 2 or codes.size(1) != self.code_length:
            raise ValueError(f'"codes" must have shape (B, {self.code_length}), '
                             f'got {tuple(codes.shape)}')
        # fp32 even under AMP autocast: normalising fp16 codes loses precision near the margin
        with torch.autocast(device_type=codes.device.type, enabled=False):
            loss = self._loss(codes.float(), target)
        return self.loss_weight * loss
