"""mmext.CoIns (mmext/models/classifiers/coins.py) against a reference in the official layout."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmext  # noqa: F401


def _build(**kwargs):
    init_default_scope('mmpretrain')
    cfg = dict(
        type='mmext.CoIns',
        num_coarse_classes=3,
        queue_len=8,
        feat_dim=6,
        momentum=0.01,
        backbone=dict(type='mmext.CIFARResNet', stage_blocks=(1, ), in_channels=1,
                      stem_channels=4, base_channels=4),
        neck=dict(type='MoCoV2Neck', in_channels=4, hid_channels=8, out_channels=6,
                  with_avg_pool=True),
        head=dict(type='ContrastiveHead', loss=dict(type='CrossEntropyLoss'), temperature=0.2),
        data_preprocessor=dict(type='SelfSupDataPreprocessor', mean=[0.], std=[1.],
                               to_rgb=False))
    cfg.update(kwargs)
    return MODELS.build(cfg)


def _samples(labels):
    return [DataSample().set_gt_label(int(c)) for c in labels]


def test_loss_equals_official_moco_plus_coarse_term():
    torch.manual_seed(0)
    model = _build()
    im_q, im_k = torch.randn(4, 1, 8, 8), torch.randn(4, 1, 8, 8)
    coarse = torch.tensor([0, 2, 1, 2])
    queue = model.queue.clone()
    losses = model.loss([im_q, im_k], _samples(coarse))

    # reference (idstcv/CoIns moco/builder_coins.py + coins_train.py); the first EMA update
    # copies the query encoder, so the key encoder equals it at this step
    with torch.no_grad():
        q = F.normalize(model.neck(model.backbone(im_q))[0], dim=1)
        k = F.normalize(model.neck(model.backbone(im_k))[0], dim=1)
        logits = torch.cat([(q * k).sum(1, keepdim=True), q @ queue], dim=1) / 0.2
        moco = F.cross_entropy(logits, torch.zeros(4, dtype=torch.long))
        centers = F.normalize(model.coarse_head.centers.t(), dim=0)  # (dim, coarse_num)
        coarse_loss = F.cross_entropy(q @ centers / 0.2, coarse)
    assert losses['loss_ins'].item() == pytest.approx(moco.item(), rel=1e-4)
    assert losses['loss_coarse'].item() == pytest.approx(0.5 * coarse_loss.item(), rel=1e-4)
    # the keys were enqueued
    assert torch.allclose(model.queue[:, :4], k.t(), atol=1e-5)


def test_gradients_reach_encoder_and_proxies_not_key_encoder():
    torch.manual_seed(1)
    model = _build()
    losses = model.loss([torch.randn(4, 1, 8, 8), torch.randn(4, 1, 8, 8)],
                        _samples([0, 1, 2, 0]))
    (losses['loss_ins'] + losses['loss_coarse']).backward()
    assert model.coarse_head.centers.grad.abs().sum() > 0
    assert model.backbone.conv1.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.encoder_k.parameters())
    # no hook is left on the neck
    assert not model.neck._forward_hooks


def test_coarse_only_weight_and_temperature():
    torch.manual_seed(2)
    model = _build(coarse_loss_weight=0., coarse_temperature=0.5)
    loss = model.coarse_head.loss_module
    assert (loss.la, loss.loss_weight, loss.tau, loss.margin) == (2., 0., 0., 0.)
    losses = model.loss([torch.randn(4, 1, 8, 8)] * 2, _samples([0, 1, 2, 0]))
    assert losses['loss_coarse'].item() == 0.


def test_extract_feat_takes_a_batch_or_views():
    model = _build()
    x = torch.randn(2, 1, 8, 8)
    a = model.extract_feat(x)[-1]
    b = model.extract_feat([x, torch.randn(2, 1, 8, 8)])[-1]
    c = model.extract_feat(list(x))[-1]  # pseudo-collated single images
    assert torch.equal(a, b) and torch.allclose(a, c) and a.shape == (2, 4, 8, 8)


@pytest.mark.parametrize('kwargs, match', [
    (dict(num_coarse_classes=1), 'num_coarse_classes'),
    (dict(coarse_loss_weight=-1.), 'coarse_loss_weight'),
    (dict(coarse_temperature=0.), 'coarse_temperature'),
])
def test_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _build(**kwargs)
