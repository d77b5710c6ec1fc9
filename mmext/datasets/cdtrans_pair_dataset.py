"""Source-target pair dataset of CDTrans (arXiv 2109.06165)."""
from typing import Optional, Sequence, Union

import torch
from torch.utils.data import Dataset

from mmext.registry import DATASETS

__all__ = ['SourceTargetPairDataset']


@DATASETS.register_module()
class SourceTargetPairDataset(Dataset):
    """Pairs of a labelled source sample and an unlabelled target sample, for CDTrans.

    From "CDTrans: Cross-domain Transformer for Unsupervised Domain Adaptation" (Xu et al.,
    ICLR 2022, arXiv 2109.06165): each training item is a (source, target) pair chosen by the
    two-way centre-aware selection, the target carrying its pseudo-label. The pairs are set by
    :class:`mmext.CDTransPairHook` (``set_pairs``) before the first epoch and at every refresh;
    until then the dataset cannot be read.

    An item is ``dict(inputs, data_samples, target_inputs, target_data_samples)`` (the two
    packed samples; the target's ``gt_label`` is replaced by the pseudo-label and its metainfo
    gets ``domain='target'``), which :class:`mmext.SourceTargetDataPreprocessor` turns into one
    batch. The length is fixed (``epoch_length``) so that mmengine's sampler and loop lengths do
    not change when the pairs do: item ``i`` is pair ``i mod num_pairs``, so with the sampler's
    shuffling each pair is drawn ``floor`` or ``ceil`` of ``epoch_length / num_pairs`` times per
    epoch. (The official loader makes one pass over however many pairs were kept.)

    Args:
        source (dict | Dataset): Labelled source dataset (training pipeline).
        target (dict | Dataset): Target dataset (training pipeline); its labels are never used
            for training.
        epoch_length (int, optional): Items per epoch. None uses ``len(source) + len(target)``,
            the largest possible number of pairs. Defaults to None.
    """

    def __init__(self,
                 source: Union[dict, Dataset],
                 target: Union[dict, Dataset],
                 epoch_length: Optional[int] = None) -> None:
        self.source = DATASETS.build(source) if isinstance(source, dict) else source
        self.target = DATASETS.build(target) if isinstance(target, dict) else target
        if len(self.source) == 0 or len(self.target) == 0:
            raise ValueError(f'"source" and "target" must not be empty, got {len(self.source)} '
                             f'and {len(self.target)} samples')
        if epoch_length is None:
            epoch_length = len(self.source) + len(self.target)
        if epoch_length < 1:
            raise ValueError(f'"epoch_length" must be >= 1, got {epoch_length}')
        self.epoch_length = epoch_length
        self.metainfo = getattr(self.source, 'metainfo', {})
        self.source_index = torch.zeros(0, dtype=torch.long)
        self.target_index = torch.zeros(0, dtype=torch.long)
        self.target_label = torch.zeros(0, dtype=torch.long)

    @property
    def num_pairs(self) -> int:
        return len(self.source_index)

    def set_pairs(self, source_index: Sequence[int], target_index: Sequence[int],
                  target_label: Sequence[int]) -> None:
        """Replace the pairs.

        Args:
            source_index (Sequence[int]): Source sample of each pair.
            target_index (Sequence[int]): Target sample of each pair.
            target_label (Sequence[int]): Pseudo-label of each pair's target sample.
        """
        s, t, y = (torch.as_tensor(v, dtype=torch.long).flatten()
                   for v in (source_index, target_index, target_label))
        if not len(s) == len(t) == len(y):
            raise ValueError(f'pair lists differ in length: {len(s)}, {len(t)}, {len(y)}')
        if len(s) == 0:
            raise ValueError('no source-target pair was kept: the pseudo-labels disagree with '
                             'every nearest source label')
        if s.min() < 0 or s.max() >= len(self.source) or t.min() < 0 or t.max() >= len(
                self.target):
            raise ValueError('pair indices out of range of the source / target datasets')
        self.source_index, self.target_index, self.target_label = s, t, y

    def pair_state(self) -> dict:
        """The pairs, for checkpoints."""
        return dict(source_index=self.source_index.clone(),
                    target_index=self.target_index.clone(),
                    target_label=self.target_label.clone())

    def load_pair_state(self, state: dict) -> None:
        """Restore pairs saved by :meth:`pair_state`."""
        self.set_pairs(state['source_index'], state['target_index'], state['target_label'])

    def __len__(self) -> int:
        return self.epoch_length

    def __getitem__(self, idx: int) -> dict:
        if self.num_pairs == 0:
            raise RuntimeError('SourceTargetPairDataset has no pairs yet: add '
                               'dict(type="mmext.CDTransPairHook", ...) to custom_hooks')
        p = idx % self.num_pairs
        src = self.source[int(self.source_index[p])]
        tgt = self.target[int(self.target_index[p])]
        sample = tgt['data_samples']
        sample.set_gt_label(int(self.target_label[p]))
        sample.set_metainfo(dict(domain='target'))
        return dict(inputs=src['inputs'], data_samples=src['data_samples'],
                    target_inputs=tgt['inputs'], target_data_samples=sample)
