import pytest
import torch
from mmengine.registry import init_default_scope
from mmpretrain.structures import DataSample

import mmext  # noqa: F401
from mmext.registry import MODELS


def _coke(predictor=True):
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    head = dict(type='mmext.CoKeHead', num_instances=16, num_clusters=(3, 4), feat_dim=8)
    if predictor:
        head['predictor'] = dict(type='NonLinearNeck', in_channels=8, hid_channels=16,
                                 out_channels=8, num_layers=2, with_last_bn=False,
                                 with_avg_pool=False)
    return MODELS.build(dict(
        type='mmext.CoKe',
        backbone=dict(type='mmext.CIFARResNet', stage_blocks=(1, 1), in_channels=1,
                      stem_channels=4, base_channels=4),
        neck=dict(type='NonLinearNeck', in_channels=8, hid_channels=16, out_channels=8,
                  num_layers=3, with_last_bn=True, with_avg_pool=True),
        head=head))


def _samples(ids, labels=None):
    return [DataSample(metainfo=dict(sample_idx=i)).set_gt_label(0 if labels is None else l)
            for i, l in zip(ids, labels or ids)]


def test_two_views_cluster_and_train():
    model = _coke()
    views = [torch.randn(4, 1, 12, 12) for _ in range(2)]
    loss = model(views, _samples([3, 1, 7, 15]), mode='loss')['loss']
    loss.backward()
    assert torch.isfinite(loss)
    assert model.backbone.conv1.weight.grad.abs().sum() > 0
    assert model.head.predictor.fc0.weight.grad.abs().sum() > 0
    # the batch's instances got a cluster in every clustering; no other instance did
    assert model.head.counts_0.sum() == 4 and model.head.counts_1.sum() == 4
    # no class label is read: other gt labels give the same loss from the same state
    model2 = _coke()
    loss2 = model2(views, _samples([3, 1, 7, 15], [9, 9, 9, 9]), mode='loss')['loss']
    assert torch.allclose(loss, loss2)
    # extract_feat is the backbone's (what kNN / linear probes read)
    assert model.extract_feat(views[0])[-1].shape == (4, 8, 6, 6)


def test_multi_crop_views():
    model = _coke(predictor=False)
    views = [torch.randn(4, 1, 12, 12) for _ in range(2)] + [torch.randn(4, 1, 6, 6)] * 3
    out = model(views, _samples(range(4)), mode='loss')
    assert set(out) == {'loss', 'large_views', 'small_crops'}
    out['loss'].backward()


def test_errors_name_the_problem():
    model = _coke()
    with pytest.raises(ValueError, match='MultiView'):
        model([torch.randn(2, 1, 12, 12)], _samples(range(2)), mode='loss')
    with pytest.raises(KeyError, match='sample_idx'):
        model([torch.randn(2, 1, 12, 12)] * 2, [DataSample()] * 2, mode='loss')
    with pytest.raises(ValueError, match='num_instances'):
        model([torch.randn(2, 1, 12, 12)] * 2, _samples([0, 16]), mode='loss')
