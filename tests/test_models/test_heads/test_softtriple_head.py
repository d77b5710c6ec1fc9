import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS as PRETRAIN_MODELS
from mmpretrain.structures import DataSample

from mmext.models.heads import SoftTripleHead
from mmext.models.losses import SoftTripleLoss


def _samples(labels):
    return [DataSample().set_gt_label(int(l)) for l in labels]


def test_loss_matches_the_loss_module_and_trains():
    torch.manual_seed(0)
    head = SoftTripleHead(num_classes=3, in_channels=12, embed_dims=8, num_centers=2)
    feats = (torch.randn(6, 12), )
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    loss = head.loss(feats, _samples(labels))['loss']
    emb = F.normalize(head.proj(feats[0]), dim=1)
    ref = SoftTripleLoss(num_classes=3, num_centers=2)(emb, F.normalize(head.centers, dim=1),
                                                        labels)
    assert torch.allclose(loss, ref)
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in head.parameters())
    opt = torch.optim.SGD(head.parameters(), lr=0.5)
    first = loss.item()
    for _ in range(20):
        opt.zero_grad()
        loss = head.loss(feats, _samples(labels))['loss']
        loss.backward()
        opt.step()
    assert loss.item() < first


def test_predict_sets_embedding_and_scores():
    head = SoftTripleHead(num_classes=4, in_channels=6, embed_dims=None, num_centers=3,
                          cal_acc=True)
    feats = (torch.randn(5, 6), )
    out = head.predict(feats)
    assert len(out) == 5
    for s in out:
        assert s.embedding.shape == (6, ) and s.embedding.norm().item() == pytest.approx(1, 1e-5)
        assert s.pred_score.sum().item() == pytest.approx(1, 1e-5)
    losses = head.loss(feats, _samples([0, 1, 2, 3, 0]))
    assert 'accuracy_top-1' in losses


def test_in_image_classifier():
    init_default_scope('mmpretrain')
    model = PRETRAIN_MODELS.build(dict(
        type='ImageClassifier',
        backbone=dict(type='ResNet_CIFAR', depth=18, in_channels=1, stem_channels=8,
                      base_channels=8, out_indices=(3, )),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='mmext.SoftTripleHead', num_classes=10, in_channels=64, embed_dims=16,
                  num_centers=2)))
    x = torch.randn(4, 1, 28, 28)
    losses = model(x, _samples([0, 1, 2, 3]), mode='loss')
    assert torch.isfinite(losses['loss'])
    preds = model(x, _samples([0, 1, 2, 3]), mode='predict')
    assert preds[0].embedding.shape == (16, )


@pytest.mark.parametrize('kwargs, match', [
    (dict(num_centers=0), 'num_centers'),
    (dict(embed_dims=0), 'embed_dims'),
    (dict(loss=dict(type='mmext.SoftTripleLoss', num_centers=5)), 'num_centers'),
    (dict(loss=dict(type='mmext.SoftTripleLoss', num_classes=7)), 'num_classes'),
])
def test_bad_config(kwargs, match):
    cfg = dict(num_classes=3, in_channels=8, num_centers=2)
    cfg.update(kwargs)
    with pytest.raises(ValueError, match=match):
        SoftTripleHead(**cfg)


def test_unpooled_feature_error():
    head = SoftTripleHead(num_classes=3, in_channels=8)
    with pytest.raises(ValueError, match='GlobalAveragePooling'):
        head.predict((torch.randn(2, 8, 4, 4), ))
