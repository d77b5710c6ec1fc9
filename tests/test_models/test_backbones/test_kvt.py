# Copyright (c) mmext contributors. All rights reserved.
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from mmpretrain.models.backbones import VisionTransformer

import mmext  # noqa: F401
from mmext.models.backbones.kvt import KVT
from mmext.models.layers.knn_attention import KNNAttention

# sibling module of this file (pytest puts this folder on sys.path)
from _backbone_checks import check_pretrained_with_prefix, run_train_steps

REPO = Path(__file__).parents[3]
SMALL = dict(embed_dims=16, num_layers=3, num_heads=2, feedforward_channels=32)


def test_attention_from_config_and_drop_path():
    model = KVT(SMALL, img_size=32, patch_size=8, drop_path_rate=0.2,
                attn_cfg=dict(type='mmext.KNNAttention', topk=0.5))
    assert [layer.attn.topk for layer in model.layers] == [0.5] * 3
    assert [layer.attn.out_drop.drop_prob for layer in model.layers] == pytest.approx(
        [0., 0.1, 0.2])


def test_dense_kvt_equals_mmpretrain_vit():
    # topk=None: same parameter names and the same function as the host's DeiT.
    kwargs = dict(arch=SMALL, img_size=32, patch_size=8, drop_path_rate=0.)
    host = VisionTransformer(**kwargs)
    ours = KVT(attn_cfg=dict(type='mmext.KNNAttention', topk=None), **kwargs)
    ours.load_state_dict(host.state_dict())
    host.eval()  # mmpretrain's train() returns None, so no chaining
    ours.eval()
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(ours(x)[0], host(x)[0])


def test_any_input_size_and_out_indices():
    model = KVT(SMALL, img_size=32, patch_size=8, in_channels=1, out_indices=(0, -1),
                out_type='featmap', attn_cfg=dict(type='mmext.KNNAttention', topk=3))
    outs = model(torch.randn(2, 1, 56, 40))  # pos-embed interpolated from 4x4 to 7x5
    assert [tuple(o.shape) for o in outs] == [(2, 16, 7, 5)] * 2


def test_train_steps_and_gradients_reach_every_parameter():
    torch.manual_seed(0)
    backbone = KVT(SMALL, img_size=28, patch_size=7, in_channels=1,
                   attn_cfg=dict(type='mmext.KNNAttention', topk=8))
    backbone.init_weights()
    head = nn.Linear(16, 10)
    x, y = torch.randn(4, 1, 28, 28), torch.randint(0, 10, (4, ))
    before = [p.detach().clone() for p in backbone.parameters()]
    run_train_steps(backbone, lambda: nn.functional.cross_entropy(head(backbone(x)[-1]), y),
                    extra_params=head.parameters())
    assert all(not torch.equal(a, b) for a, b in zip(before, backbone.parameters()))


def test_frozen_stages():
    model = KVT(SMALL, img_size=32, patch_size=8, frozen_stages=2)
    model.train()
    for layer in model.layers[:2]:
        assert all(not p.requires_grad for p in layer.parameters())
    assert all(p.requires_grad for p in model.layers[2].parameters())
    assert not model.patch_embed.projection.weight.requires_grad


def test_pretrained_with_prefix(tmp_path):
    check_pretrained_with_prefix(lambda **kw: KVT(SMALL, img_size=32, patch_size=8, **kw),
                                 tmp_path)


def test_init_as_official_deit():
    # cls_token, pos_embed and all linears (FFN included) truncated normal 0.02, zero biases
    torch.manual_seed(0)
    model = KVT('deit-tiny')
    model.init_weights()
    assert model.cls_token.std().item() == pytest.approx(0.02, rel=0.2)
    assert model.pos_embed.std().item() == pytest.approx(0.02, rel=0.1)
    for linear in (model.layers[0].ffn.layers[0][0], model.layers[5].ffn.layers[1],
                   model.layers[0].attn.qkv):
        assert linear.weight.std().item() == pytest.approx(0.02, rel=0.1)
        assert not linear.bias.any()


def test_bad_attn_cfg():
    with pytest.raises(ValueError, match='"attn_cfg" must be a dict with a "type"'):
        KVT(SMALL, attn_cfg=dict(topk=3))
    with pytest.raises(ValueError, match='"topk" must be >= 1'):
        KVT(SMALL, attn_cfg=dict(type='mmext.KNNAttention', topk=0))


def _build(config: str):
    """Build the model of one of our configs the way mmpretrain's tools do."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(str(REPO / 'configs' / 'kvt' / config))
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    model = MODELS.build(cfg.model)
    model.eval()
    return model


@pytest.mark.parametrize('config,params', [
    ('kvt-deit-tiny_4xb256-300e_in1k.py', 5.7e6),
    ('kvt-deit-small_4xb256-300e_in1k.py', 22.1e6),
    ('kvt-deit-base_4xb256-300e_in1k.py', 86.6e6),
])
def test_imagenet_configs_build_and_forward(config, params):
    model = _build(config)
    # Paper parameter counts include the 1000-class head: match within 2%.
    n = sum(p.numel() for p in model.parameters())
    assert abs(n - params) / params < 0.02, n
    assert all(isinstance(layer.attn, KNNAttention) and layer.attn.topk == 100
               for layer in model.backbone.layers)
    # One forward at a reduced size (pos-embed interpolated from 14x14 to 2x2).
    with torch.no_grad():
        assert model(torch.randn(1, 3, 32, 32), mode='tensor').shape == (1, 1000)


def test_fashionmnist_config_build_and_forward():
    model = _build('kvt-mini_1xb128-1e_fashionmnist.py')
    with torch.no_grad():
        assert model(torch.randn(2, 1, 28, 28), mode='tensor').shape == (2, 10)
