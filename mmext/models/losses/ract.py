"""RACT ("Hot-Refresh Model Upgrades with Regression-Alleviating Compatible Training in Image
Retrieval", Zhang et al., ICLR 2022, arXiv 2201.09724; official code: TencentARC/OpenCompatible,
first published as binjiezhang/RACT_ICLR2022)."""
from typing import Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmext.registry import MODELS

__all__ = ['RACTLoss', 'embedding_of']

# large enough to remove a logit from the softmax, small enough to stay finite in fp16 / fp32
_MASK = 1e9


def embedding_of(feat: Union[torch.Tensor, Sequence[torch.Tensor]]) -> torch.Tensor:
    """The ``(N, D)`` embedding of a hooked output: the last item of a neck's tuple, averaged
    over space when it is a 4-D feature map."""
    if isinstance(feat, (tuple, list)):
        feat = feat[-1]
    if feat.dim() == 4:
        feat = feat.mean(dim=(2, 3))
    if feat.dim() != 2:
        raise ValueError(f'expected (N, D) embeddings or (N, D, H, W) maps, got '
                         f'{tuple(feat.shape)}')
    return feat


@MODELS.register_module()
class RACTLoss(nn.Module):
    """Regression-alleviating compatible (contrastive) loss of RACT.

    The new model's embedding of an image is pulled towards the frozen old model's embedding of
    the *same* image (the new-to-old positive) and pushed away from the old embeddings of the
    other classes in the batch (new-to-old negatives) and -- the regression-alleviating part --
    from the *new* embeddings of the other classes (new-to-new negatives), so that a new query
    ranks its old-gallery positives above new-gallery negatives during a hot-refresh upgrade.
    All embeddings are L2-normalised; with ``P = <n_i, o_i>``::

        L = -mean_i log( exp(P / T) / (exp(P / T) + sum_{j: y_j != y_i} exp(<n_i, o_j> / T)
                                                    + sum_{j: y_j != y_i} exp(<n_i, n_j> / T)) )

    This is the official ``contra_reg_free`` loss (one softmax over both negative sets);
    ``regression_alleviating=False`` drops the new-to-new term (the official ``contra``, a
    point-to-point backward-compatible baseline). Same-class samples (the image itself
    included) are never negatives. The old embeddings carry no gradient.

    Args:
        temperature (float): Softmax temperature ``T``. Defaults to 0.05 (official default).
        topk_neg (int): Keep only the ``k`` hardest negatives of each set (official
            ``--comp_loss_topk``; the README command uses 10). Defaults to -1 (all).
        regression_alleviating (bool): Add the new-to-new negatives. Defaults to True.
    """

    # read by :class:`mmext.Distiller`: (new features, old features, labels)
    requires_teacher = True
    requires_label = True

    def __init__(self,
                 temperature: float = 0.05,
                 topk_neg: int = -1,
                 regression_alleviating: bool = True) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f'"temperature" must be > 0, got {temperature}')
        if topk_neg == 0 or topk_neg < -1:
            raise ValueError(f'"topk_neg" must be -1 (all) or >= 1, got {topk_neg}')
        self.temperature = temperature
        self.topk_neg = topk_neg
        self.regression_alleviating = regression_alleviating

    def _negatives(self, logits: torch.Tensor, same: torch.Tensor) -> torch.Tensor:
        logits = logits - same * _MASK
        if self.topk_neg > 0:
            logits = logits.topk(min(self.topk_neg, logits.size(1)), dim=1).values
        return logits

    def forward(self, new_feat, old_feat, labels: torch.Tensor) -> torch.Tensor:
        """Compute the loss.

        Args:
            new_feat (Tensor | tuple): New-model embeddings ``(N, D)`` (a neck's tuple or a
                ``(N, D, H, W)`` map is reduced by :func:`embedding_of`).
            old_feat (Tensor | tuple): Old-model embeddings, same shape.
            labels (Tensor): Class indices ``(N, )`` (soft ``(N, C)`` scores use the arg-max).

        Returns:
            Tensor: Scalar loss.
        """
        new = F.normalize(embedding_of(new_feat), dim=1)
        old = F.normalize(embedding_of(old_feat), dim=1).detach()
        if new.shape != old.shape:
            raise ValueError(f'new embeddings {tuple(new.shape)} and old embeddings '
                             f'{tuple(old.shape)} must have the same shape')
        if labels.dim() == 2:
            labels = labels.argmax(dim=1)
        same = (labels[:, None] == labels[None, :]).to(new.dtype)
        pos = (new * old).sum(dim=1, keepdim=True)  # (N, 1)
        parts = [pos, self._negatives(new.matmul(old.t()), same)]
        if self.regression_alleviating:
            parts.append(self._negatives(new.matmul(new.t()), same))
        logits = torch.cat(parts, dim=1) / self.temperature
        target = torch.zeros(new.size(0), dtype=torch.long, device=new.device)
        return F.cross_entropy(logits, target)
