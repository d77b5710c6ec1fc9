"""Pieces shared by the mmext self-supervised algorithms (:class:`mmext.CoKe`,
:class:`mmext.InstanceClassifier`)."""
from typing import List, Sequence

import torch
from mmpretrain.structures import DataSample

__all__ = ['instance_indices', 'as_view_list']


def instance_indices(data_samples: Sequence[DataSample]) -> torch.Tensor:
    """The dataset index of every sample, ``(B, )`` long: the instance's identity.

    mmengine's ``BaseDataset.get_data_info`` stores the index as ``sample_idx`` and mmpretrain's
    ``PackInputs`` keeps it in the metainfo by default; a subset (``indices=N``) numbers its
    images ``0 .. N-1``. No label is read.

    Raises:
        KeyError: if a sample has no ``sample_idx`` (a pipeline whose ``PackInputs`` was given
            ``meta_keys`` without it).
    """
    if not data_samples or 'sample_idx' not in data_samples[0]:
        raise KeyError('the data samples carry no "sample_idx": keep it in PackInputs\' '
                       'meta_keys (the default) so that each image has its instance index')
    return torch.tensor([int(s.sample_idx) for s in data_samples], dtype=torch.long)


def as_view_list(inputs, min_views: int, algorithm: str) -> List[torch.Tensor]:
    """``inputs`` as a list of views (a single tensor is one view), at least ``min_views``."""
    views = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    if len(views) < min_views:
        raise ValueError(f'{algorithm} needs at least {min_views} views per image, got '
                         f'{len(views)}: use MultiView in the train pipeline')
    return views
