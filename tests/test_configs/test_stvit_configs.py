"""configs/stvit: ImageNet / COCO mirrors build at the released size; small configs run."""
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmext  # noqa: F401
from mmext.models.backbones.stvit import STViT


def build(path, registry='mmpretrain', device='cpu'):
    cfg = Config.fromfile(path)
    init_default_scope(cfg.get('default_scope', registry))
    if registry == 'mmdet':
        from mmdet.registry import MODELS
    else:
        from mmpretrain.registry import MODELS
    with torch.device(device):  # meta: count parameters without allocating them
        return MODELS.build(cfg.model)


@pytest.mark.parametrize('name,params', [('small', 49_625_518), ('base', 87_812_336)])
def test_in1k_configs(name, params):
    # parameter counts printed in the official training logs (log/small.txt, log/base.txt)
    model = build(f'configs/stvit/stvit-r-swin-{name}_8xb128-300e_in1k.py', device='meta')
    n = sum(p.numel() for p in model.parameters())
    assert abs(n - params) / params < 0.02


def test_coco_config_dense_backbone():
    model = build('configs/stvit/mask-rcnn_stvit-r-swin-s_fpn_1x_coco.py', 'mmdet')
    assert isinstance(model.backbone, STViT)
    assert model.backbone.out_indices == [0, 1, 2, 3]
    feats = model.backbone(torch.randn(1, 3, 64, 96))
    assert [f.shape[1] for f in feats] == [96, 192, 384, 768]
    assert len(model.neck(feats)) == 5


def test_fashionmnist_configs():
    for name in ('stvit-r-nano', 'swin-nano-convstem'):
        model = build(f'configs/stvit/{name}_1xb128-1e_fashionmnist.py')
        assert model(torch.randn(2, 1, 56, 56), mode='tensor').shape == (2, 10)


@pytest.mark.parametrize('name,published', [('tiny_4xb256', 5.7e6), ('small_4xb256', 22.1e6),
                                            ('base_16xb64', 86.6e6)])
def test_deit_in1k_configs(name, published):
    from mmext.models.backbones.stvit import STViTDeiT
    # DeiT-T/S/B sizes (DeiT paper); the semantic-token module adds only 20 x C parameters
    model = build(f'configs/stvit/stvit-deit-{name}_in1k.py', device='meta')
    assert isinstance(model.backbone, STViTDeiT)
    assert model.backbone.num_semantic_tokens == 16 and model.backbone.semantic_layer == 4
    n = sum(p.numel() for p in model.parameters())
    assert abs(n - published) / published < 0.02


def test_deit_in1k_config_forward_reduced_size():
    model = build('configs/stvit/stvit-deit-tiny_4xb256_in1k.py')
    model.init_weights()
    # 96x112: a 6x7 patch grid, position embedding interpolated from 14x14
    assert model(torch.randn(1, 3, 96, 112), mode='tensor').shape == (1, 1000)


def test_deit_fashionmnist_configs():
    for name in ('stvit-deit-nano', 'vit-nano-p2'):
        model = build(f'configs/stvit/{name}_1xb128-1e_fashionmnist.py')
        assert model(torch.randn(2, 1, 28, 28), mode='tensor').shape == (2, 10)
