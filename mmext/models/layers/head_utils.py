"""Config checks and data-sample handling shared by the mmext classification-style heads.

The heads that sit after a ``GlobalAveragePooling`` neck in mmpretrain's ``ImageClassifier``
(:class:`~mmext.models.heads.SoftTripleHead`, :class:`~mmext.models.heads.HashingHead`,
:class:`~mmext.models.heads.DistributionCalibrationHead`) fill their loss config from their own
arguments, check that they receive a pooled feature and attach predictions to (possibly
missing) data samples in the same way; that shared code lives here.
"""
from typing import List, Optional, Sequence

import torch
from mmpretrain.structures import DataSample

__all__ = ['fill_loss_cfg', 'pooled_feature', 'prepare_data_samples']


def fill_loss_cfg(loss: dict, **head_values) -> dict:
    """Return a copy of a head's ``loss`` config with the head's own values filled in.

    A value the loss config leaves out is taken from the head; one it sets must agree, so a
    config cannot give the head and its loss different sizes.

    Args:
        loss (dict): The head's ``loss`` config (not modified).
        **head_values: The head's values of the loss arguments, e.g. ``num_classes=10``.

    Returns:
        dict: The completed loss config.
    """
    loss = dict(loss)
    for key, value in head_values.items():
        if loss.setdefault(key, value) != value:
            raise ValueError(f'loss.{key}={loss[key]} does not match the head\'s {key}={value}')
    return loss


def pooled_feature(feats: Sequence[torch.Tensor], in_channels: int,
                   head: str) -> torch.Tensor:
    """The last feature of ``feats``, checked to be a pooled ``(B, in_channels)`` tensor.

    Args:
        feats (Sequence[torch.Tensor]): The neck outputs passed to the head.
        in_channels (int): The head's ``in_channels``.
        head (str): Name of the head, for the error message.

    Returns:
        torch.Tensor: ``feats[-1]``, of shape ``(B, in_channels)``.
    """
    x = feats[-1]
    if x.dim() != 2 or x.size(1) != in_channels:
        raise ValueError(f'{head} expects a pooled feature of shape (B, {in_channels}), got '
                         f'{tuple(x.shape)}; add a GlobalAveragePooling neck or fix '
                         f'"in_channels"')
    return x


def prepare_data_samples(data_samples: Optional[Sequence[Optional[DataSample]]],
                         batch_size: int) -> List[DataSample]:
    """The samples a head's ``predict`` writes into: the given ones, new ones where missing.

    Args:
        data_samples (Sequence[DataSample | None], optional): The batch's samples; ``None``
            (or ``None`` entries) when ``predict`` is called without annotations.
        batch_size (int): Number of samples to create when ``data_samples`` is None.

    Returns:
        List[DataSample]: One sample per input, new empty ones in place of ``None``.
    """
    if data_samples is None:
        data_samples = [None] * batch_size
    return [DataSample() if s is None else s for s in data_samples]
