"""Tests of the loss-config / pooled-feature / data-sample helpers shared by the heads."""
import pytest
import torch
from mmpretrain.structures import DataSample

from mmext.models.layers.head_utils import (fill_loss_cfg, pooled_feature,
                                            prepare_data_samples)


def test_fill_loss_cfg_fills_and_copies():
    loss = dict(type='mmext.HyP2Loss', num_classes=10)
    filled = fill_loss_cfg(loss, num_classes=10, code_length=48)
    assert filled == dict(type='mmext.HyP2Loss', num_classes=10, code_length=48)
    assert loss == dict(type='mmext.HyP2Loss', num_classes=10)  # the config is not modified


def test_fill_loss_cfg_mismatch():
    with pytest.raises(ValueError, match=r"loss.code_length=32 does not match the head's "
                       r'code_length=48'):
        fill_loss_cfg(dict(type='x', code_length=32), num_classes=10, code_length=48)


def test_pooled_feature():
    x = torch.randn(2, 8)
    assert pooled_feature((torch.randn(2, 4, 3, 3), x), 8, 'MyHead') is x
    with pytest.raises(ValueError, match=r'MyHead expects a pooled feature of shape \(B, 8\), '
                       r'got \(2, 8, 4, 4\); add a GlobalAveragePooling neck'):
        pooled_feature((torch.randn(2, 8, 4, 4), ), 8, 'MyHead')
    with pytest.raises(ValueError, match=r'got \(2, 6\).*fix "in_channels"'):
        pooled_feature((torch.randn(2, 6), ), 8, 'MyHead')


def test_prepare_data_samples():
    new = prepare_data_samples(None, 3)
    assert len(new) == 3 and all(isinstance(s, DataSample) for s in new)
    assert new[0] is not new[1]
    given = DataSample()
    out = prepare_data_samples([given, None], 2)
    assert out[0] is given and isinstance(out[1], DataSample) and out[1] is not given
