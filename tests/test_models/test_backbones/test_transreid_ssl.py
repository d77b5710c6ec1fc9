"""Tests of the TransReID-SSL ViT (mmext.TransReIDSSLViT, mmext.IBN) and of configs/transreid_ssl.

Equality with the official model and the converter: test_tools/test_transreid_ssl_converter.py.
"""
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmext  # noqa: F401
from mmext.models.backbones.transreid_ssl import IBN, TransReIDSSLViT
from mmext.registry import MODELS

from _backbone_checks import (check_config_builds_and_runs, check_pretrained_with_prefix,
                              check_train_pipeline_size, check_two_iterations, run_train_steps)

REPO = Path(__file__).resolve().parents[3]
CONFIGS = sorted((REPO / 'configs' / 'transreid_ssl').glob('*.py'))
TINY = dict(embed_dims=32, num_layers=3, num_heads=2, feedforward_channels=64)


def tiny(**kwargs) -> TransReIDSSLViT:
    return TransReIDSSLViT(TINY, stem_channels=8, **kwargs)


@pytest.mark.parametrize('size,grid', [((256, 128), (16, 8)), ((224, 224), (14, 14))])
def test_output_shapes(size, grid):
    torch.manual_seed(0)
    x = torch.randn(2, 3, *size)
    cls = tiny(img_size=size).eval()
    assert cls.patch_resolution == grid
    assert [o.shape for o in cls(x)] == [(2, 32)]
    maps = tiny(img_size=(256, 128), out_type='featmap', out_indices=(0, -1)).eval()
    # a 224x224 input on the 16x8 position grid: resized at run time
    assert [o.shape for o in maps(x)] == [(2, 32, *grid)] * 2


def test_ics_stem_layout():
    """Official ICS: 7x7/2, 3x3, 3x3 convs without bias, IBN, IBN, BN, ReLU; 8x8/8 projection."""
    m = TransReIDSSLViT('small')
    assert m.embed_dims == 384 and m.num_layers == 12 and m.patch_resolution == (16, 8)
    convs = m.patch_embed.convs
    assert all(isinstance(c, ConvModule) for c in convs)
    assert [(c.conv.kernel_size, c.conv.stride, c.conv.bias) for c in convs] == [
        ((7, 7), (2, 2), None), ((3, 3), (1, 1), None), ((3, 3), (1, 1), None)]
    assert [type(c.norm).__name__ for c in convs] == ['IBN', 'IBN', 'BatchNorm2d']
    assert convs[0].norm.instance_norm.num_features == 32 and convs[0].norm.instance_norm.affine
    assert m.patch_embed.projection.kernel_size == m.patch_embed.projection.stride == (8, 8)
    assert m.layers[0].ln1.eps == 1e-6 and m.layers[0].attn.qkv.bias is not None
    assert TransReIDSSLViT('b').embed_dims == 768


def test_ibn_against_hand_computation():
    torch.manual_seed(0)
    ibn = IBN(6).train()
    x = torch.randn(4, 6, 5, 3) * 3 + 1
    out = ibn(x)
    a, b = x[:, :3], x[:, 3:]
    inst = (a - a.mean((2, 3), keepdim=True)) / (a.var((2, 3), unbiased=False, keepdim=True)
                                                 + 1e-5).sqrt()
    batch = (b - b.mean((0, 2, 3), keepdim=True)) / (
        b.var((0, 2, 3), unbiased=False, keepdim=True) + 1e-5).sqrt()
    assert torch.allclose(out, torch.cat([inst, batch], 1), atol=1e-5)
    assert MODELS.get('IBN') is IBN


def test_checkpoint_grid_is_resized_as_official(tmp_path):
    """A 16x8 (256x128) position grid loaded into a 224x224 model: bilinear, class token kept."""
    torch.manual_seed(0)
    src = tiny()
    pos = src.pos_embed.detach().clone().normal_()
    src.pos_embed.data.copy_(pos)
    ckpt = tmp_path / 'reid.pth'
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in src.state_dict().items()}}, ckpt)
    dst = tiny(img_size=224, init_cfg=dict(type='Pretrained', checkpoint=str(ckpt),
                                           prefix='backbone.'))
    dst.init_weights()
    grid = pos[:, 1:].reshape(1, 16, 8, 32).permute(0, 3, 1, 2)
    want = F.interpolate(grid, size=(14, 14), mode='bilinear', align_corners=False)
    assert torch.allclose(dst.pos_embed[:, 1:], want.flatten(2).transpose(1, 2), atol=1e-6)
    assert torch.equal(dst.pos_embed[:, 0], pos[:, 0])
    with pytest.raises(ValueError, match='pos_embed of the checkpoint has 7 grid entries'):
        dst._source_grid(7)


def test_pretrained_with_prefix(tmp_path):
    torch.manual_seed(0)
    check_pretrained_with_prefix(lambda **kw: tiny(**kw), tmp_path)


def test_frozen_stages_keep_stem_statistics():
    m = tiny(frozen_stages=2)
    m.train()
    assert not m.patch_embed.training and not m.layers[1].training and m.layers[2].training
    frozen = [m.cls_token, m.pos_embed, *m.patch_embed.parameters(), *m.layers[1].parameters()]
    assert not any(p.requires_grad for p in frozen)
    assert all(p.requires_grad for p in m.layers[2].parameters())
    assert all(p.requires_grad for p in tiny(frozen_stages=0).parameters())


def test_train_steps_reach_every_parameter():
    torch.manual_seed(0)
    m = tiny(out_type='featmap', out_indices=(0, 1, 2), drop_path_rate=0.1)
    m.init_weights()
    x = torch.randn(2, 3, 64, 32)
    # the class token reaches the patch tokens through attention
    losses = run_train_steps(m, lambda: sum(o.square().mean() for o in m(x)))
    assert losses[-1] < losses[0]


def test_bad_configs_fail_at_build():
    init_default_scope('mmpretrain')
    from mmpretrain.registry import MODELS as HOST
    with pytest.raises(ValueError, match='"arch" must be one of'):
        HOST.build(dict(type='mmext.TransReIDSSLViT', arch='huge'))
    with pytest.raises(ValueError, match='misses keys'):
        TransReIDSSLViT(dict(embed_dims=32, num_layers=2))
    with pytest.raises(ValueError, match='"out_indices"'):
        tiny(out_indices=(3, ))
    with pytest.raises(ValueError, match='"frozen_stages"'):
        tiny(frozen_stages=4)
    with pytest.raises(ValueError, match='"patch_size"'):
        tiny(patch_size=15)


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: p.name)
def test_config_builds_and_runs(path):
    scope = 'mmdet' if 'coco' in path.name else 'mmseg' if 'ade20k' in path.name else 'mmpretrain'
    check_config_builds_and_runs(path, scope)


def test_reid_config_follows_official_recipe():
    path = CONFIGS[0].with_name('transreid-ssl-vit-small-ics_1xb64-120e_market1501-256x128.py')
    cfg = Config.fromfile(str(path))
    check_train_pipeline_size(path, (256, 128))
    assert cfg.model.backbone.img_size == (256, 128) and cfg.model.head.num_classes == 751
    assert cfg.optim_wrapper.optimizer.lr == 4e-4 and cfg.train_dataloader.batch_size == 64
    assert cfg.train_cfg.max_epochs == 120 and cfg.model.backbone.drop_path_rate == 0.1


def test_fashionmnist_config_trains(tiny_fashion_mnist, tmp_path):
    path = REPO / 'configs/transreid_ssl/transreid-ssl-vit-nano-ics_1xb128-300it_fashionmnist.py'
    check_two_iterations(path, tiny_fashion_mnist, tmp_path)

