"""AdaNPC: Exploring Non-Parametric Classifier for Test-Time Adaptation (arXiv 2304.12566)."""
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmpretrain.models.heads import LinearClsHead
from mmpretrain.structures import DataSample
from torch import Tensor

from mmext.registry import MODELS
from ..layers.knn_votes import weighted_knn_votes

__all__ = ['AdaNPCHead']


@MODELS.register_module()
class AdaNPCHead(LinearClsHead):
    """Linear head trained as usual, predicting with an adaptive kNN memory at test time.

    From "AdaNPC: Exploring Non-Parametric Classifier for Test-Time Adaptation" (Zhang et al.,
    ICML 2023, arXiv 2304.12566). After ordinary (ERM) training with the linear classifier, a
    memory of L2-normalised source features and labels is built (see
    :class:`mmext.AdaNPCMemoryHook`). A test feature is classified by its ``k`` most cosine-similar
    memory entries, each voting for its label with weight ``softmax(sim / temperature)``; when
    ``adapt`` is on, the test feature and its predicted label are appended to the memory if its
    confidence is at least ``beta``, so the memory drifts towards the test distribution.

    Confidence, as in the official code (yfzhang114/AdaNPC, ``AdaNPC.forward_and_adapt``): the
    largest entry of ``softmax`` over the vote scores ``min(vote + 1e-5, 1)``. Since the votes lie
    in [0, 1], this confidence lies in ``[1 / C, e / (e + C - 1)]`` for ``C`` classes (0.1 to
    0.23 for 10 classes): ``beta=0.1`` admits every sample, and above ``e / (e + C - 1)`` (e.g.
    ``beta=0.1`` with more than ~25 classes) none. ``admission='vote'`` compares ``beta`` with
    the largest vote itself instead (our variant, not in the official code: a probability in
    [0, 1] whatever ``C``). ``k=100``, ``temperature=0.1``, ``beta=0.1`` are the values the
    official script (``unsupervised_adaptation.py``) builds the model with; its reported runs
    overwrite them by a sweep (``beta`` in {0, 0.25, 0.75, 1.1}, ``k`` in {1, ..., 200},
    ``temperature`` in {0.01, ..., 0.5}). While the memory is empty (e.g. validation during
    training without the hook) the linear classifier is used.

    The memory is a non-persistent buffer: it is not saved in checkpoints and is rebuilt from the
    training data before each validation / test run.

    Args:
        num_classes (int): Number of classes.
        in_channels (int): Feature dimension.
        k (int): Number of neighbours that vote. Defaults to 100.
        temperature (float): Softmax temperature of the neighbour similarities. Defaults to 0.1.
        beta (float): Minimum confidence of a test sample to be added to the memory.
            Defaults to 0.1.
        admission (str): Confidence compared with ``beta``: ``'softmax'`` (official, softmax of
            the vote scores) or ``'vote'`` (the largest vote). Defaults to ``'softmax'``.
        adapt (bool): Whether test samples are added to the memory. Defaults to True.
        max_memory (int, optional): Upper bound of the memory size; once reached, the oldest
            *test* entries are dropped first. None means unbounded as in the paper.
            Defaults to None.
        **kwargs: Other arguments of :class:`mmpretrain.models.LinearClsHead` (``loss``,
            ``topk``, ``init_cfg``...).
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 k: int = 100,
                 temperature: float = 0.1,
                 beta: float = 0.1,
                 admission: str = 'softmax',
                 adapt: bool = True,
                 max_memory: Optional[int] = None,
                 **kwargs) -> None:
        super().__init__(num_classes=num_classes, in_channels=in_channels, **kwargs)
        if not isinstance(k, int) or k < 1:
            raise ValueError(f'"k" must be an int >= 1, got {k}')
        if temperature <= 0:
            raise ValueError(f'"temperature" must be > 0, got {temperature}')
        if beta < 0:
            raise ValueError(f'"beta" must be >= 0, got {beta}')
        if admission not in ('softmax', 'vote'):
            raise ValueError(f'"admission" must be \'softmax\' or \'vote\', got {admission!r}')
        if max_memory is not None and max_memory < k:
            raise ValueError(f'"max_memory" ({max_memory}) must be >= "k" ({k})')
        self.k = k
        self.temperature = temperature
        self.beta = beta
        self.admission = admission
        self.adapt = adapt
        self.max_memory = max_memory
        self.register_buffer('memory_feats', torch.zeros(0, in_channels), persistent=False)
        self.register_buffer(
            'memory_labels', torch.zeros(0, dtype=torch.long), persistent=False)
        # number of leading memory entries that come from the source (training) data
        self.num_source = 0
        self._warned_empty = False

    @property
    def memory_size(self) -> int:
        """Number of entries in the memory."""
        return self.memory_feats.size(0)

    def reset_memory(self) -> None:
        """Empty the memory (before it is filled again from the source data)."""
        self.memory_feats = self.memory_feats.new_zeros(0, self.in_channels)
        self.memory_labels = self.memory_labels.new_zeros(0)
        self.num_source = 0

    @torch.no_grad()
    def add_to_memory(self, feats: Tensor, labels: Tensor, source: bool = True) -> None:
        """Append features and labels to the memory.

        Args:
            feats (Tensor): Features, shape (N, in_channels); normalised here.
            labels (Tensor): Class indices, shape (N, ).
            source (bool): Whether they are source (training) samples, which are kept when the
                memory is bounded. Defaults to True.
        """
        if feats.dim() != 2 or feats.size(1) != self.in_channels:
            raise ValueError(f'memory features must be (N, {self.in_channels}), '
                             f'got {tuple(feats.shape)}')
        if labels.shape != feats.shape[:1]:
            raise ValueError(f'memory labels must be ({feats.size(0)}, ), '
                             f'got {tuple(labels.shape)}')
        if source and self.memory_size > self.num_source:
            raise RuntimeError('source samples must be added before any test sample')
        feats = F.normalize(feats.detach().float(), dim=1).to(self.memory_feats)
        self.memory_feats = torch.cat([self.memory_feats, feats])
        self.memory_labels = torch.cat(
            [self.memory_labels, labels.to(self.memory_labels)])
        if source:
            self.num_source += feats.size(0)
        if self.max_memory is not None and self.memory_size > self.max_memory:
            # drop the oldest entries, test ones first, so the source anchor survives longest
            excess = self.memory_size - self.max_memory
            keep = torch.ones(self.memory_size, dtype=torch.bool, device=feats.device)
            test_idx = torch.arange(self.num_source, self.memory_size, device=feats.device)
            drop_test = test_idx[:excess]
            keep[drop_test] = False
            excess -= drop_test.numel()
            if excess > 0:
                keep[:excess] = False
                self.num_source -= excess
            self.memory_feats = self.memory_feats[keep]
            self.memory_labels = self.memory_labels[keep]

    def knn_scores(self, feats: Tensor) -> Tensor:
        """Class votes of the ``k`` nearest memory entries.

        Args:
            feats (Tensor): Test features, shape (B, in_channels).

        Returns:
            Tensor: Votes, shape (B, num_classes), each row sums to 1.
        """
        if self.k > self.memory_size:
            raise ValueError(f'"k" ({self.k}) must be <= the memory size ({self.memory_size}); '
                             'fill the memory with more samples (mmext.AdaNPCMemoryHook '
                             '"max_samples") or lower "k"')
        # cosine similarity, (B, C) x (M, C) -> (B, M)
        sim = F.normalize(feats.float(), dim=1) @ self.memory_feats.float().t()
        votes, _ = weighted_knn_votes(sim, self.memory_labels, self.num_classes, self.k,
                                      self.temperature)
        return votes

    def confidence(self, votes: Tensor) -> Tuple[Tensor, Tensor]:
        """Admission confidence and predicted class of each sample, both (B, ).

        Args:
            votes (Tensor): Votes from :meth:`knn_scores`, shape (B, num_classes).
        """
        if self.admission == 'vote':
            return votes.max(dim=1)
        # official: softmax over the clamped vote scores
        return F.softmax((votes + 1e-5).clamp(max=1.0), dim=1).max(dim=1)

    def predict(self,
                feats: Tuple[Tensor],
                data_samples: Optional[List[Optional[DataSample]]] = None) -> List[DataSample]:
        """Predict with the kNN memory (and adapt it), or the linear layer if it is empty.

        Args:
            feats (tuple[Tensor]): Backbone / neck features; the last one is used.
            data_samples (list[DataSample], optional): Annotations of the samples.

        Returns:
            list[DataSample]: Samples with ``pred_score`` and ``pred_label``.
        """
        if self.memory_size == 0:
            if not self._warned_empty:
                print_log('AdaNPCHead memory is empty: predicting with the linear classifier '
                          '(add mmext.AdaNPCMemoryHook to custom_hooks)', logger='current')
                self._warned_empty = True
            return super().predict(feats, data_samples)
        pre_logits = self.pre_logits(feats)
        scores = self.knn_scores(pre_logits)
        if self.adapt:
            conf, pred = self.confidence(scores)
            keep = conf >= self.beta
            if keep.any():
                self.add_to_memory(pre_logits[keep], pred[keep], source=False)
        pred_labels = scores.argmax(dim=1, keepdim=True).detach()
        out_samples = []
        if data_samples is None:
            data_samples = [None for _ in range(scores.size(0))]
        for data_sample, score, label in zip(data_samples, scores, pred_labels):
            if data_sample is None:
                data_sample = DataSample()
            data_sample.set_pred_score(score).set_pred_label(label)
            out_samples.append(data_sample)
        return out_samples
