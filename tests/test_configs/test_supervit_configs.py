"""configs/supervit: the DeiT-S mirror builds at DeiT-S size; the Fashion-MNIST pair runs."""
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

import mmext  # noqa: F401


def build(path):
    cfg = Config.fromfile(path)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    return MODELS.build(cfg.model)


def test_in1k_config():
    model = build('configs/supervit/supervit-deit-small_4xb256-300e_in1k.py')
    n = sum(p.numel() for p in model.parameters())
    # DeiT-S 22.05M + position embeddings of the 8/10/12 grids
    assert abs(n - (22.05e6 + 311 * 384)) / n < 0.02
    assert model.backbone.setting == model.test_setting == (14, 0.7)
    assert model.backbone.prune_layers == (3, 6, 9)
    model.eval()
    assert model(torch.randn(1, 3, 112, 112), mode='tensor').shape == (1, 1000)


def test_fashionmnist_configs():
    model = build('configs/supervit/supervit-tiny-p4_1xb128-1e_fashionmnist.py')
    assert model(torch.randn(2, 1, 28, 28), mode='tensor').shape == (2, 10)
    base = build('configs/supervit/vit-tiny-p4-single_1xb128-1e_fashionmnist.py')
    assert base.backbone.settings == [(7, 1.0)]
    # the same network apart from the extra grids' position embeddings
    extra = sum(p.numel() for p in model.backbone.pos_embeds[:-1])
    n = sum(p.numel() for p in model.parameters())
    assert n - extra == sum(p.numel() for p in base.parameters())
