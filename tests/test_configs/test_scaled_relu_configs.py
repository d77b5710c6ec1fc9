"""configs/scaled_relu: DeiT mirrors with the conv stem build; the Fashion-MNIST trio runs."""
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

import mmext  # noqa: F401
from mmext.models.layers.scaled_relu_stem import ScaledReLUStem


def build(path, device='cpu'):
    cfg = Config.fromfile(path)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    with torch.device(device):  # meta: count parameters without allocating them
        return MODELS.build(cfg.model)


@pytest.mark.parametrize('path,params', [
    ('configs/scaled_relu/scaled-relu-vit-small_4xb256-300e_in1k.py', 23.41e6),
    ('configs/scaled_relu/vit-small-plain-relu-stem_4xb256-300e_in1k.py', 23.41e6),
    # ViT-B 86.57M + conv stem (83k) + 8x8x64 projection instead of 16x16x3
    ('configs/scaled_relu/scaled-relu-vit-base_16xb64-300e_in1k.py', 89.21e6),
])
def test_in1k_configs(path, params):
    model = build(path, 'meta')
    assert isinstance(model.backbone.patch_embed, ScaledReLUStem)
    n = sum(p.numel() for p in model.parameters())
    assert abs(n - params) / params < 0.02


@pytest.mark.parametrize('name,stem', [('vit-tiny-p4-patchify', False),
                                       ('scaled-relu-vit-tiny-p4', True),
                                       ('plain-relu-vit-tiny-p4', True)])
def test_fashionmnist_configs(name, stem):
    model = build(f'configs/scaled_relu/{name}_1xb128-1e_fashionmnist.py')
    assert isinstance(model.backbone.patch_embed, ScaledReLUStem) == stem
    assert model(torch.randn(2, 1, 28, 28), mode='tensor').shape == (2, 10)
