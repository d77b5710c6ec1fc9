"""Head holding the multi-center class proxies of SoftTriple (arXiv 1909.05235)."""
import math
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpretrain.evaluation import Accuracy
from mmpretrain.structures import DataSample

from mmext.registry import MODELS
from ..layers.head_utils import fill_loss_cfg, pooled_feature, prepare_data_samples

__all__ = ['SoftTripleHead']


@MODELS.register_module()
class SoftTripleHead(BaseModule):
    """Embedding head with ``K`` learnable centers per class for the SoftTriple loss.

    From "SoftTriple Loss: Deep Metric Learning Without Triplet Sampling" (Qian et al., ICCV
    2019, arXiv 1909.05235). The pooled backbone feature is projected to a low-dimensional
    embedding (64-d for CUB-200 / Cars196 in the paper) and L2-normalised; the head owns the
    ``num_classes * num_centers`` unit-norm centers that :class:`mmext.SoftTripleLoss` compares
    it with. At test time it returns the embedding (for Recall@K, see :class:`mmext.RecallAtK`)
    and class scores from the relaxed class similarity (so ``Accuracy`` also works).

    Works inside mmpretrain's ``ImageClassifier`` (after a ``GlobalAveragePooling`` neck):
    it implements ``loss(feats, data_samples)`` and ``predict(feats, data_samples)``.

    Args:
        num_classes (int): Number of training classes ``C``.
        in_channels (int): Channels of the pooled backbone feature.
        embed_dims (int | None): Embedding size ``D``; ``None`` uses the backbone feature as
            the embedding (no projection). Defaults to 64 (paper, CUB / Cars).
        num_centers (int): Centers per class ``K``. Defaults to 10 (paper).
        loss (dict): Config of the loss; ``num_classes`` / ``num_centers`` are filled in from
            the head and must agree if given. Defaults to
            ``dict(type='mmext.SoftTripleLoss', la=20, gamma=0.1, tau=0.2, margin=0.01)``.
        topk (int | tuple[int]): Top-k accuracy logged when ``cal_acc``. Defaults to ``(1, )``.
        cal_acc (bool): Log training accuracy of the relaxed class similarity.
            Defaults to False.
        init_cfg (dict | list[dict], optional): Initialisation config. Defaults to None (the
            projection uses PyTorch's default Linear init, the centers the same
            Kaiming-uniform rule, as in the official code).
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 embed_dims: Optional[int] = 64,
                 num_centers: int = 10,
                 loss: dict = dict(
                     type='mmext.SoftTripleLoss', la=20., gamma=0.1, tau=0.2, margin=0.01),
                 topk: Union[int, Tuple[int, ...]] = (1, ),
                 cal_acc: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_classes < 2:
            raise ValueError(f'"num_classes" must be >= 2, got {num_classes}')
        if num_centers < 1:
            raise ValueError(f'"num_centers" must be >= 1, got {num_centers}')
        if in_channels < 1:
            raise ValueError(f'"in_channels" must be >= 1, got {in_channels}')
        if embed_dims is not None and embed_dims < 1:
            raise ValueError(f'"embed_dims" must be >= 1 or None, got {embed_dims}')
        loss = fill_loss_cfg(loss, num_classes=num_classes, num_centers=num_centers)
        self.num_classes = num_classes
        self.num_centers = num_centers
        self.in_channels = in_channels
        self.embed_dims = in_channels if embed_dims is None else embed_dims
        self.topk = (topk, ) if isinstance(topk, int) else tuple(topk)
        self.cal_acc = cal_acc
        self.loss_module = MODELS.build(loss)

        self.proj = nn.Identity() if embed_dims is None else nn.Linear(in_channels, embed_dims)
        # (C * K, D), class-major: rows c*K .. c*K+K-1 are the centers of class c
        self.centers = nn.Parameter(torch.empty(num_classes * num_centers, self.embed_dims))
        nn.init.kaiming_uniform_(self.centers, a=math.sqrt(5))

    def pre_logits(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        """L2-normalised embedding of the last stage feature, ``(B, D)``."""
        x = pooled_feature(feats, self.in_channels, 'SoftTripleHead')
        return F.normalize(self.proj(x), dim=1)

    def normalized_centers(self) -> torch.Tensor:
        """Unit-norm centers, ``(C * K, D)``."""
        return F.normalize(self.centers, dim=1)

    def forward(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        """Scaled relaxed class similarities ``lambda * S``, ``(B, C)``."""
        return self.loss_module.class_logits(self.pre_logits(feats), self.normalized_centers())

    def loss(self, feats: Tuple[torch.Tensor], data_samples: List[DataSample],
             **kwargs) -> dict:
        """SoftTriple loss of a batch; returns ``dict(loss=...)`` (+ accuracy if asked)."""
        emb = self.pre_logits(feats)
        centers = self.normalized_centers()
        target = torch.cat([s.gt_label for s in data_samples]).to(emb.device)
        losses = dict(loss=self.loss_module(emb, centers, target))
        if self.cal_acc:
            with torch.no_grad():
                logits = self.loss_module.class_logits(emb, centers)
            acc = Accuracy.calculate(logits, target, topk=self.topk)
            losses.update({f'accuracy_top-{k}': a for k, a in zip(self.topk, acc)})
        return losses

    def predict(self,
                feats: Tuple[torch.Tensor],
                data_samples: Optional[Sequence[Optional[DataSample]]] = None
                ) -> List[DataSample]:
        """Set ``embedding`` (unit-norm), ``pred_score`` and ``pred_label`` of each sample."""
        emb = self.pre_logits(feats)
        scores = F.softmax(self.loss_module.class_logits(emb, self.normalized_centers()), dim=1)
        labels = scores.argmax(dim=1, keepdim=True)
        data_samples = prepare_data_samples(data_samples, emb.size(0))
        out = []
        for sample, e, score, label in zip(data_samples, emb.detach(), scores.detach(), labels):
            sample.set_pred_score(score).set_pred_label(label)
            sample.set_field(e, 'embedding', dtype=torch.Tensor)
            out.append(sample)
        return out
