"""Head with the training-set memory bank of LOOK (arXiv 2110.06014)."""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dist import all_gather
from mmengine.model import BaseModule
from mmpretrain.evaluation import Accuracy
from mmpretrain.structures import DataSample

from mmext.registry import MODELS
from ..layers.head_utils import fill_loss_cfg, pooled_feature, prepare_data_samples
from ..layers.knn_votes import weighted_knn_votes

__all__ = ['LOOKHead']


@MODELS.register_module()
class LOOKHead(BaseModule):
    """Embedding head trained with the leave-one-out kNN loss of LOOK.

    From "Rethinking Supervised Pre-training for Better Downstream Transferring" (Feng et al.,
    ICLR 2022, arXiv 2110.06014). The pooled backbone feature is (optionally) projected and
    L2-normalised; a memory bank holds one normalised embedding and the label of every training
    sample, indexed by the sample's ``sample_idx`` (see :class:`mmext.RelabeledDataset`, which
    numbers its samples densely). Each query is classified by its ``k`` nearest neighbours
    among the *other* samples (:class:`mmext.LOOKLoss`): the bank without the query's own slot
    and, with ``live_batch``, the current batch's fresh embeddings in place of their stale
    slots, so the whole training set minus the query is the neighbour set. After the loss the
    batch is written into the bank (all ranks' batches under DDP).

    The paper's official code is not public; the bank, its momentum update and ``live_batch``
    follow the memory bank of instance discrimination (Wu et al., 2018) and are our reading of
    the paper's "efficient implementation" (configs/look/README.md lists what is ours).

    Works inside mmpretrain's ``ImageClassifier`` after a ``GlobalAveragePooling`` neck. At test
    time the class scores are the kNN votes over the bank; for transfer use the backbone
    features (``extract_feat``), e.g. with ``mmext.FeatureProbeMetric``. The bank is a
    non-persistent buffer: it is not saved in checkpoints and refills during training.

    Args:
        num_classes (int): Number of training classes.
        in_channels (int): Channels of the pooled backbone feature.
        memory_size (int): Slots of the memory bank: at least the number of training samples
            (``sample_idx`` must be below it).
        embed_dims (int | None): Size of the embedding; ``None`` uses the backbone feature
            itself (no projection). Defaults to 128.
        hid_channels (int | None): Hidden width of a two-layer MLP projection (Linear-ReLU-
            Linear, as MoCo v2's neck); ``None`` for a single Linear layer. Ignored when
            ``embed_dims`` is None. Defaults to None.
        memory_momentum (float): Momentum of a slot's update, ``m * old + (1 - m) * new`` then
            re-normalised (Wu et al. use 0.5); 0 replaces the slot. Defaults to 0.5.
        live_batch (bool): Let the current batch's embeddings (with gradients) be neighbours
            instead of their bank slots. Defaults to True.
        loss (dict): Config of the loss; ``num_classes`` is filled in from the head.
            Defaults to ``dict(type='mmext.LOOKLoss', k=200, temperature=0.07)``.
        topk (int | tuple[int]): Top-k accuracy logged when ``cal_acc``. Defaults to ``(1, )``.
        cal_acc (bool): Log the training accuracy of the kNN votes. Defaults to False.
        init_cfg (dict | list[dict], optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 memory_size: int,
                 embed_dims: Optional[int] = 128,
                 hid_channels: Optional[int] = None,
                 memory_momentum: float = 0.5,
                 live_batch: bool = True,
                 loss: dict = dict(type='mmext.LOOKLoss', k=200, temperature=0.07),
                 topk: Union[int, Tuple[int, ...]] = (1, ),
                 cal_acc: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_classes < 2:
            raise ValueError(f'"num_classes" must be >= 2, got {num_classes}')
        if in_channels < 1:
            raise ValueError(f'"in_channels" must be >= 1, got {in_channels}')
        if memory_size < 2:
            raise ValueError(f'"memory_size" must be >= 2 (one slot per training sample), '
                             f'got {memory_size}')
        if embed_dims is not None and embed_dims < 1:
            raise ValueError(f'"embed_dims" must be >= 1 or None, got {embed_dims}')
        if hid_channels is not None and hid_channels < 1:
            raise ValueError(f'"hid_channels" must be >= 1 or None, got {hid_channels}')
        if not 0 <= memory_momentum < 1:
            raise ValueError(f'"memory_momentum" must be in [0, 1), got {memory_momentum}')
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.memory_size = memory_size
        self.memory_momentum = memory_momentum
        self.live_batch = live_batch
        self.topk = (topk, ) if isinstance(topk, int) else tuple(topk)
        self.cal_acc = cal_acc
        self.loss_module = MODELS.build(fill_loss_cfg(loss, num_classes=num_classes))

        if embed_dims is None:
            self.proj = nn.Identity()
            self.embed_dims = in_channels
        elif hid_channels is None:
            self.proj = nn.Linear(in_channels, embed_dims)
            self.embed_dims = embed_dims
        else:
            self.proj = nn.Sequential(
                nn.Linear(in_channels, hid_channels), nn.ReLU(inplace=True),
                nn.Linear(hid_channels, embed_dims))
            self.embed_dims = embed_dims
        self.register_buffer(
            'memory', torch.zeros(memory_size, self.embed_dims), persistent=False)
        # -1: an empty slot, never a neighbour
        self.register_buffer(
            'memory_labels', torch.full((memory_size, ), -1, dtype=torch.long),
            persistent=False)

    def pre_logits(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        """L2-normalised embedding of the last feature, ``(B, embed_dims)``."""
        x = pooled_feature(feats, self.in_channels, 'LOOKHead')
        return F.normalize(self.proj(x), dim=1)

    def _sample_indices(self, data_samples: List[DataSample]) -> torch.Tensor:
        if any('sample_idx' not in s for s in data_samples):
            raise KeyError('LOOKHead needs "sample_idx" in each data sample (mmpretrain\'s '
                           'PackInputs keeps it; mmext.RelabeledDataset numbers samples densely)')
        idx = torch.tensor([int(s.sample_idx) for s in data_samples],
                           device=self.memory.device)
        if idx.min() < 0 or idx.max() >= self.memory_size:
            raise ValueError(f'sample_idx {int(idx.max())} does not fit "memory_size" '
                             f'{self.memory_size}: set memory_size to at least the number of '
                             f'training samples')
        return idx

    @torch.no_grad()
    def update_memory(self, emb: torch.Tensor, labels: torch.Tensor,
                      idx: torch.Tensor) -> None:
        """Write normalised embeddings ``(B, D)`` with their labels into slots ``idx``."""
        emb = torch.cat(all_gather(emb.detach().float().contiguous()))
        labels = torch.cat(all_gather(labels.contiguous()))
        idx = torch.cat(all_gather(idx.contiguous()))
        old = self.memory[idx]
        filled = (self.memory_labels[idx] >= 0).unsqueeze(1)
        new = torch.where(filled, self.memory_momentum * old + (1 - self.memory_momentum) * emb,
                          emb)
        self.memory[idx] = F.normalize(new, dim=1).to(self.memory)
        self.memory_labels[idx] = labels

    def knn_scores(self, emb: torch.Tensor) -> torch.Tensor:
        """kNN class votes of normalised embeddings over the memory bank, ``(B, C)``."""
        sim = emb.float() @ self.memory.float().t()
        sim = sim.masked_fill(self.memory_labels.unsqueeze(0) < 0, float('-inf'))
        votes, has_valid = weighted_knn_votes(sim, self.memory_labels, self.num_classes,
                                              self.loss_module.k,
                                              self.loss_module.temperature)
        # an empty bank votes uniformly
        return torch.where(has_valid.unsqueeze(1), votes,
                           torch.full_like(votes, 1. / self.num_classes))

    def forward(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        """kNN class votes over the memory bank, ``(B, C)``."""
        return self.knn_scores(self.pre_logits(feats))

    def loss(self, feats: Tuple[torch.Tensor], data_samples: List[DataSample],
             **kwargs) -> dict:
        """Leave-one-out kNN loss of a batch, then the batch is written into the bank."""
        emb = self.pre_logits(feats)
        labels = torch.cat([s.gt_label for s in data_samples]).to(emb.device)
        idx = self._sample_indices(data_samples)
        if self.live_batch:
            # the batch's own slots are stale copies of the live embeddings: hide them
            bank_labels = self.memory_labels.clone()
            bank_labels[idx] = -1
            keys = torch.cat([self.memory, emb])
            key_labels = torch.cat([bank_labels, labels])
            exclude = self.memory_size + torch.arange(emb.size(0), device=emb.device)
        else:
            # a copy: the bank is updated in place before the backward pass
            keys, key_labels, exclude = self.memory.clone(), self.memory_labels.clone(), idx
        losses = dict(loss=self.loss_module(emb, labels, keys, key_labels, exclude))
        if self.cal_acc:
            with torch.no_grad():
                acc = Accuracy.calculate(self.knn_scores(emb), labels, topk=self.topk)
            losses.update({f'accuracy_top-{k}': a for k, a in zip(self.topk, acc)})
        self.update_memory(emb, labels, idx)
        return losses

    def predict(self,
                feats: Tuple[torch.Tensor],
                data_samples: Optional[Sequence[Optional[DataSample]]] = None
                ) -> List[DataSample]:
        """Set ``pred_score`` (kNN votes over the bank) and ``pred_label`` of each sample."""
        scores = self(feats)
        labels = scores.argmax(dim=1, keepdim=True)
        data_samples = prepare_data_samples(data_samples, scores.size(0))
        for sample, score, label in zip(data_samples, scores.detach(), labels):
            sample.set_pred_score(score).set_pred_label(label)
        return data_samples
