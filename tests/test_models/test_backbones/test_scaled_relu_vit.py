import pytest
import torch
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS as PRETRAIN_MODELS

import mmext  # noqa: F401
from mmext.models.backbones.scaled_relu_vit import ScaledReLUViT
from mmext.models.layers.scaled_relu_stem import ScaledReLUStem


def test_vit_with_stem_builds_from_config_and_trains():
    init_default_scope('mmpretrain')
    model = PRETRAIN_MODELS.build(
        dict(type='mmext.ScaledReLUViT',
             arch=dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64),
             img_size=28, patch_size=4, in_channels=1, stem_cfg=dict(stem_channels=8),
             out_type='cls_token'))
    assert isinstance(model, ScaledReLUViT)
    assert isinstance(model.patch_embed, ScaledReLUStem)
    assert model.patch_embed.patch_size == 2
    assert model.pos_embed.shape == (1, 7 * 7 + 1, 32)
    out = model(torch.randn(2, 1, 28, 28))[0]
    assert out.shape == (2, 32)
    # a random projection: the sum of a LayerNorm output has no gradient
    (out * torch.randn_like(out)).sum().backward()
    assert model.patch_embed.convs[0].conv.weight.grad.abs().sum() > 0
    # other input sizes: pos_embed is resized by the parent
    assert model(torch.randn(1, 1, 36, 36))[0].shape == (1, 32)


def test_deit_small_params():
    # DeiT-S has 22.05M parameters with its 1000-class head; the conv stem adds
    # 7*7*3*64 + 2*3*3*64*64 + 3*2*64 + 8*8*64*384 + 384 - (16*16*3*384 + 384).
    model = ScaledReLUViT(arch='deit-small')
    n = sum(p.numel() for p in model.parameters()) + 384 * 1000 + 1000
    extra = 7 * 7 * 3 * 64 + 2 * 9 * 64 * 64 + 3 * 2 * 64 + 8 * 8 * 64 * 384 - 16 * 16 * 3 * 384
    assert abs(n - (22.05e6 + extra)) / n < 0.02


def test_frozen_stem():
    model = ScaledReLUViT(
        arch=dict(embed_dims=16, num_layers=2, num_heads=2, feedforward_channels=32),
        img_size=32, frozen_stages=1, stem_cfg=dict(stem_channels=4))
    model.train()
    assert all(not p.requires_grad for p in model.patch_embed.parameters())
    assert not model.patch_embed.convs[0].bn.training


def test_bad_config():
    with pytest.raises(ValueError, match='"kernel_sizes"'):
        ScaledReLUStem(kernel_sizes=(7, 3), strides=(2, 1, 1))
    with pytest.raises(ValueError, match='not divisible'):
        ScaledReLUViT(arch='deit-tiny', patch_size=14, stem_cfg=dict(strides=(4, 1, 1)))
