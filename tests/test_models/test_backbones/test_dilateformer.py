# Copyright (c) mmext contributors. All rights reserved.
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

import mmext  # noqa: F401
from mmext.models.backbones.dilateformer import DilateFormer
from mmext.models.layers.msda import MultiScaleDilatedAttention

# sibling module of this file (pytest puts this folder on sys.path)
from _backbone_checks import check_pretrained_with_prefix, run_train_steps

REPO = Path(__file__).parents[3]
SMALL = dict(embed_dims=12, depths=[1, 1, 1, 1], num_heads=[3, 3, 6, 6])


def test_outputs_strides_any_size_in_channels():
    model = DilateFormer(SMALL, in_channels=1, out_indices=(0, 1, 2, 3), padding_mode='mask')
    outs = model(torch.randn(2, 1, 61, 45))
    assert [o.shape[1] for o in outs] == [12, 24, 48, 96]
    # stride-2 3x3 convs with padding 1: ceil division at each step
    assert [tuple(o.shape[2:]) for o in outs] == [(16, 12), (8, 6), (4, 3), (2, 2)]
    assert isinstance(model.stages[1][0].attn, MultiScaleDilatedAttention)
    assert not isinstance(model.stages[2][0].attn, MultiScaleDilatedAttention)
    assert model.stages[0][0].attn.padding_mode == 'mask'


def test_train_steps_and_gradients_reach_every_parameter():
    torch.manual_seed(0)
    backbone = DilateFormer(SMALL, in_channels=1, drop_path_rate=0.1)
    backbone.init_weights()
    head = nn.Linear(96, 10)
    x, y = torch.randn(4, 1, 32, 32), torch.randint(0, 10, (4, ))
    before = [p.detach().clone() for p in backbone.parameters()]
    loss = run_train_steps(
        backbone, lambda: nn.functional.cross_entropy(head(backbone(x)[-1].mean((2, 3))), y),
        extra_params=head.parameters())[-1]
    assert torch.isfinite(loss)
    assert all(not torch.equal(a, b) for a, b in zip(before, backbone.parameters()))


def test_frozen_stages_and_norm_eval():
    model = DilateFormer(SMALL, frozen_stages=2, norm_eval=True, out_indices=(0, 3))
    model.train()
    for module in (model.downsample_layers[0], model.stages[0], model.downsample_layers[1],
                   model.stages[1], model.norm0):
        assert not module.training
        assert all(not p.requires_grad for p in module.parameters())
    assert all(p.requires_grad for p in model.stages[2].parameters())
    assert model.stages[2].training
    assert all(not m.training for m in model.modules() if isinstance(m, _BatchNorm))


def test_pretrained_with_prefix(tmp_path):
    check_pretrained_with_prefix(lambda **kw: DilateFormer(SMALL, **kw), tmp_path,
                                 extra_state={'head.fc.weight': torch.zeros(10, 96)})


def test_init_msda_qkv_pytorch_default_other_linears_trunc_normal():
    # Official: MSDA's qkv is a 1x1 Conv2d left at PyTorch's default init (uniform within
    # 1 / sqrt(fan_in), non-zero bias); every nn.Linear gets truncated normal 0.02, zero bias.
    torch.manual_seed(0)
    model = DilateFormer(dict(embed_dims=48, depths=[1, 1, 1, 1], num_heads=[3, 3, 6, 6]))
    model.init_weights()
    qkv = model.stages[0][0].attn.qkv
    bound = 48**-0.5
    assert qkv.weight.abs().max() <= bound and qkv.weight.std() > 0.8 * bound / 3**0.5
    assert qkv.bias.abs().max() <= bound and qkv.bias.abs().min() > 0
    for linear in (model.stages[0][0].attn.proj, model.stages[2][0].attn.qkv,
                   model.stages[0][0].ffn.layers[1]):
        assert linear.weight.std().item() == pytest.approx(0.02, rel=0.15)
        assert not linear.bias.any()


@pytest.mark.parametrize('kwargs,match', [
    (dict(arch='huge'), '"arch" must be one of'),
    (dict(arch=dict(embed_dims=12, depths=[1, 1])), 'a custom "arch" must be a dict'),
    (dict(arch=SMALL, out_indices=(4, )), '"out_indices" must be in'),
    (dict(arch=SMALL, msda_stages=(5, )), '"msda_stages" must be in'),
    (dict(arch=dict(embed_dims=12, depths=[1, 1, 1, 1], num_heads=[2, 2, 2, 2])),
     'multiple of the number of "dilations"'),
])
def test_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DilateFormer(**kwargs)


def _build(config: str, registry: str):
    """Build the model of one of our configs the way the host tools do."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    cfg = Config.fromfile(str(REPO / 'configs' / 'dilateformer' / config))
    init_default_scope(cfg.get('default_scope', registry))
    models = __import__(f'{registry}.registry', fromlist=['MODELS']).MODELS
    model = models.build(cfg.model)
    model.eval()
    return model


@pytest.mark.parametrize('config,params', [
    ('dilateformer-tiny_8xb128-300e_in1k.py', 17.2e6),
    ('dilateformer-small_8xb128-300e_in1k.py', 24.1e6),
    ('dilateformer-base_8xb128-300e_in1k.py', 47.4e6),
])
def test_imagenet_configs_build_and_forward(config, params):
    model = _build(config, 'mmpretrain')
    # Paper parameter counts include the 1000-class head: match within 2%.
    n = sum(p.numel() for p in model.parameters())
    assert abs(n - params) / params < 0.02, n
    with torch.no_grad():
        logits = model(torch.randn(1, 3, 32, 32), mode='tensor')
    assert logits.shape == (1, 1000)


def test_fashionmnist_config_build_and_forward():
    model = _build('dilateformer-mini_1xb128-1e_fashionmnist.py', 'mmpretrain')
    with torch.no_grad():
        assert model(torch.randn(2, 1, 28, 28), mode='tensor').shape == (2, 10)


def test_mask_rcnn_config_build_and_forward():
    model = _build('mask-rcnn_dilateformer-t_fpn_1x_coco.py', 'mmdet')
    with torch.no_grad():
        feats = model.extract_feat(torch.randn(1, 3, 64, 96))
    assert [f.shape[-2:] for f in feats] == [(16, 24), (8, 12), (4, 6), (2, 3), (1, 2)]


def test_upernet_config_build_and_forward():
    model = _build('upernet_dilateformer-t_8xb2-160k_ade20k-512x512.py', 'mmseg')
    with torch.no_grad():
        logits = model(torch.randn(1, 3, 64, 64), mode='tensor')
    assert logits.shape == (1, 150, 16, 16)


def test_nuclei_config_build_and_forward():
    model = _build('upernet_dilateformer-mini_1xb8-200i_nuclei.py', 'mmseg')
    with torch.no_grad():
        assert model(torch.randn(1, 3, 128, 128), mode='tensor').shape == (1, 2, 32, 32)
