import random

import pytest
import torch
import torch.nn.functional as F
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmext  # noqa: F401


def build(**kwargs):
    init_default_scope('mmpretrain')
    cfg = dict(
        type='mmext.SuperViTClassifier',
        backbone=dict(type='mmext.SuperViT',
                      arch=dict(embed_dims=16, num_layers=4, num_heads=2,
                                feedforward_channels=32),
                      patch_size=4, token_grids=(4, 5, 7), keep_rates=(0.5, 0.7, 1.0),
                      prune_layers=(1, 2), in_channels=1),
        head=dict(type='LinearClsHead', num_classes=3, in_channels=16,
                  loss=dict(type='CrossEntropyLoss')),
        data_preprocessor=dict(type='ClsDataPreprocessor', num_classes=3))
    cfg.update(kwargs)
    return MODELS.build(cfg)


def batch(n=4):
    inputs = torch.randn(n, 1, 28, 28)
    samples = [DataSample().set_gt_label(i % 3) for i in range(n)]
    return inputs, samples


def test_sample_subnets_follow_official_recipe():
    model = build()
    random.seed(0)
    for _ in range(20):
        s = model.sample_subnets()
        assert s[0] == (7, 1.0)
        assert s[1][0] == 7 and s[1][1] < 1
        assert s[2][0] in (4, 5) and s[2][1] == 1.0
        assert s[3][0] == s[2][0] and s[3][1] < 1


def test_loss_values_match_manual_computation():
    model = build()
    model.train()
    inputs, samples = batch()
    torch.manual_seed(0)
    model.sample_subnets = lambda: [(7, 1.0), (7, 0.5), (4, 1.0), (4, 0.7)]
    losses = model.loss(inputs, samples)
    # the setting is restored for inference
    assert model.backbone.setting == model.test_setting == (7, 1.0)
    assert set(losses) == {'loss', 'loss_kd_g7_r0.5_1', 'loss_g4_r1', 'loss_kd_g4_r0.7_3'}
    labels = torch.tensor([s.gt_label.item() for s in samples])
    logits = {}
    for setting in [(7, 1.0), (7, 0.5), (4, 1.0), (4, 0.7)]:
        model.backbone.set_setting(*setting)
        logits[setting] = model.head(model.backbone(inputs))
    torch.testing.assert_close(losses['loss'], F.cross_entropy(logits[(7, 1.0)], labels))
    torch.testing.assert_close(losses['loss_g4_r1'], F.cross_entropy(logits[(4, 1.0)], labels))
    t = F.softmax(logits[(7, 1.0)], 1)
    ref = (t * (t.log() - F.log_softmax(logits[(7, 0.5)], 1))).sum(1).mean()
    torch.testing.assert_close(losses['loss_kd_g7_r0.5_1'], ref)


def test_train_steps_and_predict_setting():
    model = build(test_setting=(5, 0.7))
    assert model.backbone.setting == (5, 0.7)
    optim = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-3))
    inputs, samples = batch(8)
    data = dict(inputs=list(inputs), data_samples=samples)
    first = None
    for _ in range(3):
        log = model.train_step(data, optim)
        first = first if first is not None else log['loss'].item()
    assert torch.isfinite(log['loss'])
    model.eval()
    seen = []
    model.backbone.layers[3].register_forward_hook(lambda m, i, o: seen.append(i[0].shape[1]))
    preds = model.val_step(data)
    assert len(preds) == 8 and preds[0].pred_score.shape == (3, )
    # grid 5 -> 25 patches -> keep 0.7 twice: 18 -> 13, plus the class token
    assert seen == [14]


def test_bad_config():
    with pytest.raises(ValueError, match='keep_rate 0.3 is not in'):
        build(test_setting=(7, 0.3))
    with pytest.raises(ValueError, match='"kd_weight"'):
        build(kd_weight=-1.0)
    with pytest.raises(TypeError, match='SuperViT-like backbone'):
        build(backbone=dict(type='ResNet', depth=18), head=dict(
            type='LinearClsHead', num_classes=3, in_channels=512))
