"""tools/model_converters/dilateformer_to_mmext.py against a reference in the official layout.

``OfficialDilateFormer`` below is written for this test from the facts of the official model
(JIAOJIAYUASD/dilateformer, ``models/dilateformer.py``): its parameter names and shapes and its
forward (MSDA gathers each dilation group's neighbours with a zero-padded unfold and keeps them
in the softmax; the QKV of MSDA is a 1x1 convolution; the stride-2 convolution + BN closes each
stage; stage-wise LayerNorm eps 1e-6; mean of the normed tokens -> head).
"""
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmext  # noqa: F401
from mmext.models.backbones.dilateformer import DilateFormer

# sibling modules of this file (pytest puts this folder on sys.path)
from _converter_checks import (REPO, check_edited_checkpoint_fails, check_init_refuses,
                               check_layout_fits_config, check_round_trip, randomize_,
                               run_converter, save_deit_style)

CONFIG = 'configs/dilateformer/dilateformer-{}_8xb128-300e_in1k.py'
ARCHS = {'tiny': (72, [2, 2, 6, 2]), 'small': (72, [3, 5, 8, 3]), 'base': (96, [4, 8, 10, 3])}


class _Mlp(nn.Module):

    def __init__(self, dim):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class _DilatedAttention(nn.Module):
    """Official ``MultiDilatelocalAttention``: heads split into groups, one dilation each."""

    def __init__(self, dim, heads, dilations=(1, 2, 3), kernel=3):
        super().__init__()
        self.heads, self.dilations, self.kernel = heads, dilations, kernel
        self.qkv = nn.Conv2d(dim, 3 * dim, 1)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):  # (B, H, W, C)
        B, H, W, C = x.shape
        G, d, k = len(self.dilations), C // self.heads, self.kernel
        qkv = self.qkv(x.permute(0, 3, 1, 2)).reshape(B, 3, G, C // G, H, W)
        groups = []
        for g, dil in enumerate(self.dilations):
            q, key, v = qkv[:, 0, g], qkv[:, 1, g], qkv[:, 2, g]

            def gather(t):  # (B, C/G, H, W) -> (B, h, d, k*k, HW), zero outside the map
                return F.unfold(t, k, dilation=dil, padding=dil * (k - 1) // 2).reshape(
                    B, -1, d, k * k, H * W)

            attn = (q.reshape(B, -1, d, 1, H * W) * gather(key)).sum(2) * d**-0.5
            out = (attn.softmax(2).unsqueeze(2) * gather(v)).sum(3)  # (B, h, d, HW)
            groups.append(out.reshape(B, C // G, H, W))
        return self.proj(torch.cat(groups, 1).permute(0, 2, 3, 1))


class _GlobalAttention(nn.Module):

    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)

    def forward(self, x):  # (B, H, W, C)
        B, H, W, C = x.shape
        q, k, v = self.qkv(x).reshape(B, H * W, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        attn = (q @ k.transpose(-2, -1) * q.shape[-1]**-0.5).softmax(-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(B, H, W, C))


class _Block(nn.Module):

    def __init__(self, dim, heads, dilated):
        super().__init__()
        self.pos_embed = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = _DilatedAttention(dim, heads) if dilated else _GlobalAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = _Mlp(dim)

    def forward(self, x):  # (B, C, H, W)
        x = (x + self.pos_embed(x)).permute(0, 2, 3, 1)
        x = x + self.attn(self.norm1(x))
        return (x + self.mlp(self.norm2(x))).permute(0, 3, 1, 2)


class _Stage(nn.Module):

    def __init__(self, dim, depth, heads, dilated, downsample):
        super().__init__()
        self.blocks = nn.ModuleList(_Block(dim, heads, dilated) for _ in range(depth))
        self.downsample = nn.Identity()
        if downsample:
            self.downsample = nn.Module()
            self.downsample.proj = nn.Sequential(
                nn.Conv2d(dim, 2 * dim, 3, 2, 1), nn.BatchNorm2d(2 * dim))

    def forward(self, x):
        for blk in self.blocks:
            x = blk(x)
        return x if isinstance(self.downsample, nn.Identity) else self.downsample.proj(x)


class OfficialDilateFormer(nn.Module):
    """The official ``Dilateformer`` (overlapping stem, MSDA in stages 0-1, conv3_2 merging)."""

    def __init__(self, arch='tiny', num_classes=1000, stem=16):
        super().__init__()
        dim, depths = ARCHS[arch]
        self.patch_embed = nn.Module()
        layers = []
        for c_in, c_out, stride in [(3, stem, 1), (stem, 2 * stem, 2), (2 * stem, 4 * stem, 1)]:
            layers += [nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out),
                       nn.GELU()]
        self.patch_embed.proj = nn.Sequential(*layers, nn.Conv2d(4 * stem, dim, 3, 2, 1,
                                                                 bias=False))
        self.stages = nn.ModuleList(
            _Stage(dim * 2**i, depth, 3 * 2**i, i < 2, i < 3) for i, depth in enumerate(depths))
        self.norm = nn.LayerNorm(dim * 8, eps=1e-6)
        self.head = nn.Linear(dim * 8, num_classes)

    def forward(self, x):
        x = self.patch_embed.proj(x)
        for stage in self.stages:
            x = stage(x)
        return self.head(self.norm(x.flatten(2).transpose(1, 2)).mean(1))


def test_tiny_round_trip_gives_official_logits(tmp_path):
    # 64x64 keeps it fast; the dilated windows then also cross the border of the 16x16 / 8x8
    # maps, where the official zero padding matters.
    ckpt = check_round_trip('dilateformer', OfficialDilateFormer('tiny'), CONFIG.format('tiny'),
                            torch.randn(2, 3, 64, 64), tmp_path, variant='tiny')
    assert ckpt['meta']['converted_from'].endswith('official.pth')


@pytest.mark.parametrize('arch', ['small', 'base'])
def test_small_base_layouts_detected_and_fit_configs(arch):
    check_layout_fits_config('dilateformer', lambda: OfficialDilateFormer(arch), CONFIG.format(arch), arch)


def _official_tiny_state():
    return randomize_(OfficialDilateFormer('tiny', num_classes=10)).state_dict()


@pytest.mark.parametrize('edit,message', [
    (lambda sd: sd.update({'stages.1.blocks.0.attn.rel_pos': torch.zeros(3)}),
     'could not place source key "stages.1.blocks.0.attn.rel_pos"'),
    (lambda sd: sd.pop('stages.2.blocks.3.mlp.fc2.bias'),
     'source key "stages.2.blocks.3.mlp.fc2.bias" not found'),
    (lambda sd: sd.pop('stages.2.blocks.5.norm1.weight'), 'unknown DilateFormer layout'),
    (lambda sd: sd.update({k.replace('stages.', 'layers.'): sd.pop(k) for k in list(sd)}),
     'not an official DilateFormer checkpoint'),
])
def test_mismatched_checkpoint_stops_with_the_first_unplaced_key(edit, message, tmp_path):
    check_edited_checkpoint_fails('dilateformer', _official_tiny_state(), edit, message, tmp_path)


def test_backbone_refuses_unconverted_checkpoint_and_names_converter(tmp_path):
    src = save_deit_style(_official_tiny_state(), tmp_path / 'official.pth')
    check_init_refuses(DilateFormer, src, 'dilateformer_to_mmext.py SRC DST')
    # converted, but given without its prefix: the error says what to add
    run_converter('dilateformer', src, tmp_path / 'converted.pth')
    check_init_refuses(DilateFormer, tmp_path / 'converted.pth', "add prefix='backbone.'",
                       prefix=None)


def test_mask_rcnn_config_loads_converted_backbone(tmp_path):
    src = save_deit_style(_official_tiny_state(), tmp_path / 'official.pth')
    ckpt = run_converter('dilateformer', src, tmp_path / 'converted.pth')
    cfg = Config.fromfile(
        str(REPO / 'configs/dilateformer/mask-rcnn_dilateformer-t_fpn_1x_coco.py'))
    cfg.model.backbone.init_cfg = dict(
        type='Pretrained', checkpoint=str(tmp_path / 'converted.pth'), prefix='backbone.')
    init_default_scope('mmdet')
    from mmdet.registry import MODELS
    detector = MODELS.build(cfg.model)
    detector.init_weights()
    loaded = detector.backbone.state_dict()
    expected = {k[len('backbone.'):]: v for k, v in ckpt['state_dict'].items()
                if k.startswith('backbone.')}
    # the classifier has only the last stage's norm; the detector's extra norm0-2 stay as built
    assert set(loaded) - set(expected) == {f'norm{i}.{p}' for i in range(3)
                                           for p in ('weight', 'bias')}
    for k, v in expected.items():
        assert torch.equal(loaded[k], v), k
