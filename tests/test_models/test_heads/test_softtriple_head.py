import pytest
import torch
import torch.nn.functional as F

from mmext.models.heads import SoftTripleHead
from mmext.models.losses import SoftTripleLoss

# sibling module of this file (pytest puts this folder on sys.path)
from _head_checks import build_cifar_classifier, check_loss_trains
from _head_checks import samples as _samples


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
    check_loss_trains(head, feats, _samples(labels))


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
    model = build_cifar_classifier(
        dict(type='mmext.SoftTripleHead', num_classes=10, in_channels=64, embed_dims=16,
             num_centers=2))
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
