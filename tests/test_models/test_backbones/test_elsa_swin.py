"""Tests of the ELSA-Swin backbone (mmext.ELSASwin) and of the configs under configs/elsa."""
from pathlib import Path

import pytest
import torch
from mmengine.analysis import FlopAnalyzer
from mmengine.registry import init_default_scope

import mmext  # noqa: F401
from mmext.models.backbones.elsa_swin import ELSABlock, ELSASwin
from mmext.registry import MODELS

# sibling module of this file (pytest puts this folder on sys.path)
from _backbone_checks import (check_config_builds_and_runs, check_pretrained_with_prefix,
                              run_train_steps)

REPO = Path(__file__).resolve().parents[3]
SMALL = dict(embed_dims=16, depths=[1, 1, 2, 1], num_heads=[1, 2, 4, 8], group_width=4)


def _classifier(arch, num_classes=1000):
    from mmpretrain.registry import MODELS as PRETRAIN_MODELS
    init_default_scope('mmpretrain')
    backbone = ELSASwin(arch)
    return PRETRAIN_MODELS.build(
        dict(type='ImageClassifier', backbone=dict(type='mmext.ELSASwin', arch=arch),
             neck=dict(type='GlobalAveragePooling'),
             head=dict(type='LinearClsHead', num_classes=num_classes,
                       in_channels=backbone.num_features[-1])))


@pytest.mark.parametrize('arch,params_m', [('tiny', 29), ('small', 53), ('base', 93)])
def test_paper_param_counts(arch, params_m):
    """ImageNet classifiers (backbone + 1000-way head) match the paper's sizes within 2%."""
    n = sum(p.numel() for p in _classifier(arch).parameters()) / 1e6
    assert abs(n - params_m) / params_m < 0.02, f'{arch}: {n:.2f}M vs {params_m}M'


def test_paper_flops_tiny():
    """ELSA-Swin-T at 224x224: 4.8 GFLOPs (multiply-adds) in the paper, within 5%."""
    model = _classifier('tiny').eval()
    fa = FlopAnalyzer(model, (torch.randn(1, 3, 224, 224), ))
    fa.unsupported_ops_warnings(False)
    fa.uncalled_modules_warnings(False)
    assert abs(fa.total() / 1e9 - 4.8) / 4.8 < 0.05, fa.total() / 1e9


def test_stages_use_elsa_as_in_paper():
    m = ELSASwin('tiny')
    for i, stage in enumerate(m.stages):
        kinds = {type(b).__name__ for b in stage.blocks}
        assert kinds == ({'ELSABlock'} if i < 3 else {'SwinBlock'}), (i, kinds)
    assert m.stages[0].blocks[0].attn.group_width == 4  # Tiny uses group width 4
    assert ELSASwin('small').stages[0].blocks[0].attn.group_width == 8


@pytest.mark.parametrize('size', [(32, 32), (45, 61), (9, 13)])
def test_out_indices_any_size(size):
    torch.manual_seed(0)
    m = ELSASwin(SMALL, in_channels=1, out_indices=(0, 1, 2, 3)).eval()
    outs = m(torch.randn(2, 1, *size))
    assert len(outs) == 4
    H, W = size
    for i, out in enumerate(outs):
        stride = 4 * 2**i
        assert out.shape == (2, 16 * 2**i, -(-H // stride), -(-W // stride)), (i, out.shape)
    # negative index == last stage
    assert ELSASwin(SMALL, out_indices=-1).out_indices == [3]


def test_train_steps_reach_every_parameter():
    torch.manual_seed(0)
    m = ELSASwin(SMALL, out_indices=(0, 1, 2, 3), drop_path_rate=0.1)
    m.init_weights()
    x = torch.randn(2, 3, 40, 36)
    losses = run_train_steps(m, lambda: sum(o.square().mean() for o in m(x)))
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < losses[0]


def test_frozen_stages_and_norm_eval():
    m = ELSASwin(SMALL, out_indices=(0, 1, 2, 3), frozen_stages=1, norm_eval=True)
    m.train()
    for module in (m.patch_embed, m.stages[0], m.stages[1], m.norm0, m.norm1):
        assert not module.training
        assert all(not p.requires_grad for p in module.parameters())
    assert m.stages[2].training and all(p.requires_grad for p in m.stages[2].parameters())


def test_pretrained_with_prefix(tmp_path):
    torch.manual_seed(0)
    check_pretrained_with_prefix(lambda **kw: ELSASwin(SMALL, **kw), tmp_path)


def test_registered_block():
    block = ELSABlock(16, 2, kernel_size=3, group_width=4)
    assert block(torch.randn(1, 15, 16), (3, 5)).shape == (1, 15, 16)
    assert MODELS.get('ELSASwin') is ELSASwin


def test_bad_configs():
    with pytest.raises(ValueError, match='"arch" must be one of'):
        ELSASwin('huge')
    with pytest.raises(ValueError, match='misses keys'):
        ELSASwin(dict(embed_dims=16, depths=[1, 1]))
    with pytest.raises(ValueError, match='"out_indices"'):
        ELSASwin(SMALL, out_indices=(4, ))
    with pytest.raises(ValueError, match='"frozen_stages"'):
        ELSASwin(SMALL, frozen_stages=4)
    with pytest.raises(ValueError, match='"num_heads"'):
        ELSASwin(dict(embed_dims=16, depths=[1, 1, 1, 1], num_heads=[3, 2, 4, 8]))


CONFIGS = sorted((REPO / 'configs' / 'elsa').glob('*.py'))


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: p.name)
def test_config_builds_and_runs(path):
    scope = 'mmpretrain'
    if 'coco' in path.name:
        scope = 'mmdet'
    elif 'ade20k' in path.name:
        scope = 'mmseg'
    check_config_builds_and_runs(path, scope)


def test_configs_present():
    names = {p.name for p in CONFIGS}
    assert {'elsa-swin-tiny_8xb128-300e_in1k.py', 'elsa-swin-small_8xb128-300e_in1k.py',
            'elsa-swin-base_8xb128-300e_in1k.py',
            'mask-rcnn_elsa-swin-t-p4-w7_fpn_ms-crop-1x_coco.py',
            'upernet_elsa-swin-t_8xb2-160k_ade20k-512x512.py'} <= names
