import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS as PRETRAIN_MODELS

import mmext  # noqa: F401
from mmext.models.layers.scaled_relu_stem import ScaledReLUStem, ScaledReLUViT


def test_stem_matches_reference_and_shapes():
    torch.manual_seed(0)
    stem = ScaledReLUStem(in_channels=1, embed_dims=12, stem_channels=6, patch_size=4,
                          input_size=32).eval()
    x = torch.randn(2, 1, 32, 32)
    y = x
    for m in stem.convs:  # scaled ReLU = ReLU(BN(conv))
        y = F.conv2d(y, m.conv.weight, None, m.conv.stride, m.conv.padding)
        y = F.relu(F.batch_norm(y, m.bn.running_mean, m.bn.running_var, m.bn.weight,
                                m.bn.bias, False, 0., m.bn.eps))
    ref = F.conv2d(y, stem.projection.weight, stem.projection.bias, 4).flatten(2)
    tokens, hw = stem(x)
    assert hw == stem.init_out_size == (4, 4)
    torch.testing.assert_close(tokens, ref.transpose(1, 2))


def test_stem_any_input_size_and_ablation():
    stem = ScaledReLUStem(embed_dims=8, stem_channels=4, input_size=None)
    tokens, hw = stem(torch.randn(1, 3, 50, 37))
    # (50, 37) -> stride-2 conv (25, 19) -> padded to multiples of 8 -> (4, 3) tokens
    assert hw == stem.out_size((50, 37)) == (4, 3)
    assert tokens.shape == (1, 12, 8)
    plain = ScaledReLUStem(embed_dims=8, stem_channels=4, scaled=False)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in plain.modules())


def test_default_stem_has_overall_stride_16():
    stem = ScaledReLUStem(embed_dims=384)
    assert stem.total_stride == 16 and stem.init_out_size == (14, 14)


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
