import pytest
import torch
from mmengine.registry import init_default_scope
from mmpretrain.structures import DataSample

import mmext  # noqa: F401
from mmext.registry import MODELS


def _model(temperature=0.2):
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    return MODELS.build(dict(
        type='mmext.InstanceClassifier',
        backbone=dict(type='mmext.CIFARResNet', stage_blocks=(1, 1), in_channels=1,
                      stem_channels=4, base_channels=4),
        neck=dict(type='NonLinearNeck', in_channels=8, hid_channels=16, out_channels=6,
                  num_layers=2, with_avg_pool=True),
        head=dict(type='mmext.InstanceClassificationHead', num_instances=10, in_channels=6,
                  temperature=temperature)))


def _samples(ids, label=0):
    return [DataSample(metainfo=dict(sample_idx=i)).set_gt_label(label) for i in ids]


@pytest.mark.parametrize('temperature', [0.2, None])
def test_trains_on_instance_ids(temperature):
    model = _model(temperature)
    assert model._ddp_params_and_buffers_to_ignore == ['head.fc.weight']
    x = torch.randn(4, 1, 12, 12)
    ids = [3, 1, 7, 9]
    loss = model([x], _samples(ids), mode='loss')['loss']
    loss.backward()
    assert torch.isfinite(loss)
    assert model.backbone.conv1.weight.grad.abs().sum() > 0
    # only the batch's classes and their hardest negatives get a gradient
    grad = model.head.fc.weight.grad.abs().sum(1)
    assert (grad[ids] > 0).all()
    # a tensor (no MultiView) is one view; gt labels are not read
    assert torch.allclose(model(x, _samples(ids, label=5), mode='loss')['loss'], loss)
    # cosine logits are bounded by 1 / temperature
    logits = model.head(model.neck(model.backbone(x)))
    assert logits.shape == (4, 10)
    if temperature:
        assert logits.abs().max() <= 1 / temperature + 1e-4


def test_errors_name_the_problem():
    model = _model()
    with pytest.raises(ValueError, match='num_instances=10'):
        model([torch.randn(2, 1, 12, 12)], _samples([0, 10]), mode='loss')
    with pytest.raises(ValueError, match='in_channels'):
        model.head.loss([torch.randn(2, 5)], torch.tensor([0, 1]))
    with pytest.raises(ValueError, match='temperature'):
        MODELS.build(dict(type='mmext.InstanceClassificationHead', num_instances=10,
                          in_channels=6, temperature=0.))
