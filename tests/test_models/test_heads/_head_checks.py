"""Helpers shared by the tests of the pooled-feature heads (imported as a sibling module)."""
from typing import List, Sequence

import torch
import torch.nn as nn
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS as PRETRAIN_MODELS
from mmpretrain.structures import DataSample


def samples(labels: Sequence[int]) -> List[DataSample]:
    """One single-label ``DataSample`` per label."""
    return [DataSample().set_gt_label(int(label)) for label in labels]


def build_cifar_classifier(head: dict) -> nn.Module:
    """mmpretrain ``ImageClassifier``: a narrow 1-channel ResNet-18 (64-channel output), global
    average pooling and ``head``, built from the registry as a config would build it."""
    init_default_scope('mmpretrain')
    return PRETRAIN_MODELS.build(dict(
        type='ImageClassifier',
        backbone=dict(type='ResNet_CIFAR', depth=18, in_channels=1, stem_channels=8,
                      base_channels=8, out_indices=(3, )),
        neck=dict(type='GlobalAveragePooling'),
        head=head))


def check_loss_trains(head: nn.Module, feats: Sequence[torch.Tensor],
                      data_samples: List[DataSample], steps: int = 20) -> None:
    """``head.loss`` reaches every parameter and ``steps`` SGD steps lower it."""
    loss = head.loss(feats, data_samples)['loss']
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in head.parameters())
    opt = torch.optim.SGD(head.parameters(), lr=0.5)
    first = loss.item()
    for _ in range(steps):
        opt.zero_grad()
        loss = head.loss(feats, data_samples)['loss']
        loss.backward()
        opt.step()
    assert loss.item() < first
