"""Sampler over a shrinking subset of the training set, for Knowledge Condensation
Distillation (Li et al., arXiv 2207.05409; official code: dzy3/KCD)."""
import math
from typing import Iterator, Optional, Sequence, Sized

import numpy as np
import torch
from mmengine.dataset import DefaultSampler

from mmext.registry import DATA_SAMPLERS

__all__ = ['KCDSampler']


@DATA_SAMPLERS.register_module()
class KCDSampler(DefaultSampler):
    """A :class:`mmengine.dataset.DefaultSampler` restricted to a kept subset of indices.

    Used with :class:`mmext.KCDHook` for "Knowledge Condensation Distillation" (Li et al., arXiv
    2207.05409): the hook periodically drops the samples whose knowledge value is lowest and
    hands the kept indices to this sampler with :meth:`set_kept_indices`. Until then every index
    is kept and the sampler behaves exactly like ``DefaultSampler`` (same seed, shuffle and
    round-up semantics, epoch set by ``DistSamplerSeedHook``). The sampler is iterated in the
    main process, so a new kept set takes effect at the next epoch even with persistent workers.

    Args:
        dataset (Sized): The dataset.
        shuffle (bool): Shuffle the kept indices every epoch. Defaults to True.
        seed (int, optional): Shuffle seed, identical on all ranks. Defaults to None (synced
            random seed).
        round_up (bool): Pad the kept indices to a multiple of the world size.
            Defaults to True.
    """

    def __init__(self,
                 dataset: Sized,
                 shuffle: bool = True,
                 seed: Optional[int] = None,
                 round_up: bool = True) -> None:
        super().__init__(dataset, shuffle=shuffle, seed=seed, round_up=round_up)
        self.kept_indices = np.arange(len(dataset), dtype=np.int64)

    def set_kept_indices(self, indices: Sequence[int]) -> None:
        """Keep only ``indices`` (dataset positions) from the next iteration on."""
        indices = np.unique(np.asarray(indices, dtype=np.int64))
        if indices.size == 0:
            raise ValueError('KCDSampler needs at least one kept index')
        if indices[0] < 0 or indices[-1] >= len(self.dataset):
            raise ValueError(f'kept indices must lie in [0, {len(self.dataset)}), got '
                             f'[{indices[0]}, {indices[-1]}]')
        self.kept_indices = indices
        if self.round_up:
            self.num_samples = math.ceil(indices.size / self.world_size)
            self.total_size = self.num_samples * self.world_size
        else:
            self.num_samples = math.ceil((indices.size - self.rank) / self.world_size)
            self.total_size = indices.size

    def __iter__(self) -> Iterator[int]:
        """Iterate the kept indices of this rank."""
        kept = torch.from_numpy(self.kept_indices)
        if self.shuffle:
            g = torch.Generator()
            g.manual_seed(self.seed + self.epoch)
            kept = kept[torch.randperm(kept.numel(), generator=g)]
        indices = kept.tolist()
        if self.round_up:
            indices = (indices * int(self.total_size / len(indices) + 1))[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.world_size])
