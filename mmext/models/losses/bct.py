"""BCT influence loss ("Towards Backward-Compatible Representation Learning", Shen et al.,
CVPR 2020, arXiv 2003.11942), with the regression-alleviating variant of RACT (arXiv 2201.09724,
official ``bct_ract`` in TencentARC/OpenCompatible) and the backward term of BiCT (arXiv
2204.13919)."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmext.registry import MODELS
from .ract import embedding_of

__all__ = ['BCTLoss']


def _get_module(model: nn.Module, path: str) -> nn.Module:
    named = dict(model.named_modules())
    if path not in named:
        raise ValueError(f'old classifier "{path}" not found in {type(model).__name__}; '
                         f'linear layers: {[n for n, m in named.items() if isinstance(m, nn.Linear)]}')
    return named[path]


@MODELS.register_module()
class BCTLoss(nn.Module):
    """Influence loss of backward-compatible training: the old classifier on new embeddings.

    BCT trains the new embedding ``n(x)`` so that the frozen *old* classifier ``W_old``
    classifies it: ``L = CE(W_old n(x) + b_old, y)``, which places new embeddings near the old
    class centres, so new queries can search the old gallery. Samples whose class the old
    classifier does not know (``y >= C_old``) are left out (BCT extends the old classifier with
    old-model class means for them; not done here). With ``regression_alleviating=True`` the
    logits of the new model's own classifier for the *other* classes join the softmax (RACT's
    ``bct_ract``), so a new embedding must also be closer to its old class centre than to the
    new centres of other classes. BiCT uses this loss, with a small weight, as its backward term.

    The old classifier is found in the frozen old model (the teacher of
    :class:`mmext.CompatibleDistiller`, which calls :meth:`bind_old_model`); it is not a
    submodule of the loss, so it is neither trained nor saved.

    Args:
        old_classifier (str): Module path of the old model's linear classifier. Defaults to
            ``'head.fc'`` (mmpretrain ``LinearClsHead``).
        regression_alleviating (bool): Add the new classifier's non-target logits; the distill
            item then takes the student paths ``[embedding module, new classifier]``.
            Defaults to False.
    """

    # read by :class:`mmext.Distiller`: (new features, labels); the old model is bound instead
    requires_teacher = False
    requires_label = True

    def __init__(self, old_classifier: str = 'head.fc',
                 regression_alleviating: bool = False) -> None:
        super().__init__()
        self.old_classifier = old_classifier
        self.regression_alleviating = regression_alleviating
        self._old_fc = []  # a list keeps the frozen layer out of parameters() / state_dict()

    def bind_old_model(self, old_model: nn.Module) -> None:
        """Remember the frozen old model's classifier (called once at build time)."""
        fc = _get_module(old_model, self.old_classifier)
        if not isinstance(fc, nn.Linear):
            raise ValueError(f'old classifier "{self.old_classifier}" must be nn.Linear, got '
                             f'{type(fc).__name__}')
        self._old_fc = [fc]

    def forward(self, new_feat, labels: torch.Tensor,
                new_logits: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Compute the loss.

        Args:
            new_feat (Tensor | tuple | list): New embeddings ``(N, D)`` (a neck's tuple is
                reduced by :func:`embedding_of`); with ``regression_alleviating`` the list
                ``[embeddings, new logits (N, C_new)]`` of the two student paths.
            labels (Tensor): Class indices ``(N, )`` (soft scores use the arg-max).
            new_logits (Tensor, optional): New-classifier logits, if not given in ``new_feat``.

        Returns:
            Tensor: Scalar loss (0 when no sample has an old class).
        """
        if not self._old_fc:
            raise RuntimeError('BCTLoss has no old classifier: build it inside '
                               'mmext.CompatibleDistiller (which binds the old model)')
        if self.regression_alleviating and new_logits is None:
            if not isinstance(new_feat, list) or len(new_feat) != 2:
                raise ValueError('regression_alleviating=True needs the student paths '
                                 '[embedding module, new classifier] (two outputs)')
            new_feat, new_logits = new_feat
        fc = self._old_fc[0]
        feat = embedding_of(new_feat)
        if feat.size(1) != fc.in_features:
            raise ValueError(f'new embeddings {tuple(feat.shape)} do not fit the old classifier '
                             f'({fc.in_features} inputs)')
        if labels.dim() == 2:
            labels = labels.argmax(dim=1)
        known = labels < fc.out_features
        if not known.any():
            return feat.sum() * 0.
        logits = F.linear(feat[known], fc.weight, fc.bias)  # (n, C_old), gradient to feat only
        labels = labels[known]
        if self.regression_alleviating:
            other = new_logits[known] - F.one_hot(labels, new_logits.size(1)) * 1e9
            logits = torch.cat([logits, other], dim=1)
        return F.cross_entropy(logits, labels)
