"""Tests of the SOLIDER Swin (mmext.SOLIDERSwin) and of configs/solider.

Equality with the official model at several semantic weights and the converter:
tests/test_tools/test_solider_converter.py.
"""
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmext  # noqa: F401
from mmext.models.backbones.solider_swin import SOLIDERSwin

from _backbone_checks import (check_config_builds_and_runs, check_pretrained_with_prefix,
                              check_train_pipeline_size, check_two_iterations, run_train_steps)

REPO = Path(__file__).resolve().parents[3]
CONFIGS = sorted((REPO / 'configs' / 'solider').glob('*.py'))
TINY = dict(embed_dims=16, depths=[1, 2, 2, 1], num_heads=[1, 2, 4, 8])


def tiny(**kwargs) -> SOLIDERSwin:
    return SOLIDERSwin(TINY, out_indices=(0, 1, 2, 3), **kwargs)


@pytest.mark.parametrize('size', [(256, 128), (224, 224), (45, 61)])
def test_output_shapes(size):
    torch.manual_seed(0)
    outs = tiny().eval()(torch.randn(2, 3, *size))
    H, W = size
    for i, out in enumerate(outs):
        stride = 4 * 2**i
        assert out.shape == (2, 16 * 2**i, -(-H // stride), -(-W // stride)), (i, out.shape)


def test_semantic_layers_as_official():
    """Linear(2, C) pairs sized for the tokens entering the next stage (the last pair: the last
    stage's width), frozen; the default weight is 1.0."""
    m = SOLIDERSwin('tiny')
    assert [lin.out_features for lin in m.semantic_embed_w] == [192, 384, 768, 768]
    assert [lin.in_features for lin in m.semantic_embed_b] == [2] * 4
    assert not any(p.requires_grad for p in m.semantic_embed_w.parameters())
    assert m.semantic_weight == 1.0


@pytest.mark.parametrize('value', [0.0, 1.0])
def test_limits_modulate_the_next_stage_by_hand(value):
    """At lambda = 1 (0) the tokens entering stage i + 1 are the merged tokens times
    softplus(column 0 (1) of semantic_embed_w[i] + bias) plus the same of semantic_embed_b[i]."""
    torch.manual_seed(0)
    m = tiny(semantic_weight=value).eval()
    for lin in [*m.semantic_embed_w, *m.semantic_embed_b]:
        lin.weight.data.normal_()
        lin.bias.data.normal_()
    seen = {}
    m.stages[0].register_forward_hook(lambda mod, args, out: seen.update(stage0=out))
    m.stages[1].blocks[0].register_forward_pre_hook(
        lambda mod, args: seen.update(stage1_in=args[0]))
    m(torch.randn(2, 3, 32, 32))
    x, hw = seen['stage0']
    merged, _ = m.stages[0].downsample(x, hw)
    col = 0 if value == 1.0 else 1
    w, b = m.semantic_embed_w[0], m.semantic_embed_b[0]
    want = merged * F.softplus(w.weight[:, col] + w.bias) + b.weight[:, col] + b.bias
    assert torch.allclose(seen['stage1_in'], want, atol=1e-6)


def test_semantic_weight_changes_later_stages_only():
    torch.manual_seed(0)
    m = tiny().eval()
    x = torch.randn(2, 3, 64, 32)
    with torch.no_grad():
        zero, one, default = m(x, semantic_weight=0.0), m(x, semantic_weight=1.0), m(x)
        mixed = m(x, semantic_weight=torch.tensor([0.0, 1.0]))
    assert torch.equal(zero[0], one[0])  # stage 0 precedes any modulation
    assert all(not torch.allclose(a, b) for a, b in zip(zero[1:], one[1:]))
    assert all(torch.equal(a, b) for a, b in zip(one, default))
    # per-sample weights: sample 0 at 0, sample 1 at 1
    for z, o, mix in zip(zero, one, mixed):
        assert torch.allclose(mix[0], z[0], atol=1e-6) and torch.allclose(mix[1], o[1], atol=1e-6)
    assert torch.equal(m.semantic_vector(x, 0.2), torch.tensor([[0.2, 0.8]] * 2))


def test_pretrained_with_prefix(tmp_path):
    torch.manual_seed(0)
    check_pretrained_with_prefix(lambda **kw: tiny(**kw), tmp_path)


def test_frozen_stages():
    m = tiny(frozen_stages=1)
    m.train()
    for module in (m.patch_embed, m.stages[0], m.stages[1]):
        assert not module.training and not any(p.requires_grad for p in module.parameters())
    assert m.stages[2].training and all(p.requires_grad for p in m.stages[2].parameters())


def test_train_steps_reach_every_trainable_parameter():
    torch.manual_seed(0)
    m = tiny(drop_path_rate=0.1)
    m.init_weights()
    x = torch.randn(2, 3, 40, 36)
    losses = run_train_steps(m, lambda: sum(o.square().mean() for o in m(x)))
    assert losses[-1] < losses[0]


@pytest.mark.parametrize('value', [1.5, -0.1, True, '0.2'])
def test_semantic_weight_outside_range_fails_at_build(value):
    init_default_scope('mmpretrain')
    from mmpretrain.registry import MODELS as HOST
    with pytest.raises(ValueError, match='"semantic_weight" must be a number in'):
        HOST.build(dict(type='mmext.SOLIDERSwin', arch=TINY, semantic_weight=value))


def test_other_bad_configs():
    with pytest.raises(ValueError, match='"arch" must be one of'):
        SOLIDERSwin('large')  # mmpretrain has Swin-L; SOLIDER publishes T/S/B
    with pytest.raises(ValueError, match='"out_indices"'):
        SOLIDERSwin(TINY, out_indices=(4, ))
    with pytest.raises(ValueError, match='"frozen_stages"'):
        SOLIDERSwin(TINY, frozen_stages=4)
    with pytest.raises(ValueError, match='"semantic_weight"'):
        tiny()(torch.randn(1, 3, 32, 32), semantic_weight=2.0)
    with pytest.raises(ValueError, match='out_after_downsample'):
        SOLIDERSwin(TINY, out_after_downsample=True)


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: p.name)
def test_config_builds_and_runs(path):
    scope = 'mmdet' if 'coco' in path.name else 'mmseg' if 'ade20k' in path.name else 'mmpretrain'
    check_config_builds_and_runs(path, scope)


def test_semantic_weights_of_the_configs():
    """0.2 for re-ID (SOLIDER-REID run.sh), 1.0 for detection (SOLIDER-PedestrianDetection),
    0.0 for parsing / segmentation (SOLIDER-HumanParsing)."""
    weights = {p.name.split('_')[0]: Config.fromfile(str(p)).model.backbone.semantic_weight
               for p in CONFIGS}
    assert weights == {'solider-swin-tiny': 0.2, 'solider-swin-nano': 0.2, 'mask-rcnn': 1.0,
                       'upernet': 0.0}


def test_reid_config_follows_official_recipe():
    path = REPO / 'configs/solider/solider-swin-tiny_1xb64-120e_market1501-384x128.py'
    cfg = Config.fromfile(str(path))
    assert cfg.optim_wrapper.optimizer.lr == 8e-4 and cfg.train_dataloader.batch_size == 64
    assert cfg.model.head.num_classes == 751 and cfg.train_cfg.max_epochs == 120
    check_train_pipeline_size(path, (384, 128))


def test_fashionmnist_config_trains(tiny_fashion_mnist, tmp_path):
    check_two_iterations(REPO / 'configs/solider/solider-swin-nano_1xb128-300it_fashionmnist.py',
                         tiny_fashion_mnist, tmp_path)
