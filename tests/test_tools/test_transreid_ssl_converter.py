"""tools/model_converters/transreid_ssl_to_mmext.py: an official TransReID-SSL file gives our
backbone its re-ID features.

The reference below rebuilds the official ViT with the ICS stem (damo-cv/TransReID-SSL,
``transreid_pytorch/model/backbones/vit_pytorch.py`` with ``stem_conv=True`` and
``dino/ours_vit.py``) in its state-dict layout and forward: ``patch_embed.conv`` (conv 7x7 s2,
IBN, ReLU, conv 3x3, IBN, ReLU, conv 3x3, BN, ReLU; IBN = ``IN`` on the first half, ``BN`` on the
rest), an 8x8 ``proj``, timm blocks with LayerNorm eps 1e-6, ``norm`` and the class token as
the feature; plus the official bilinear resizing of the 2:1 position grid (``resize_pos_embed``
with ``hw_ratio``).
"""
import math

import numpy as np

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from _converter_checks import (REPO, assert_logits_close, converter_error, load_converter,
                               randomize_, run_converter)
from _converter_checks_swin import Mlp, check_dense_config_loads
from mmengine.analysis import FlopAnalyzer
from mmengine.analysis.jit_handles import get_shape
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope

CONFIGS = REPO / 'configs' / 'transreid_ssl'
CLS_CONFIG = CONFIGS / 'transreid-ssl-vit-small-ics_1xb64-120e_market1501-256x128.py'
DET_CONFIG = CONFIGS / 'mask-rcnn_transreid-ssl-vit-s-ics_mln-fpn_1x_coco.py'
SEG_CONFIG = CONFIGS / 'upernet_transreid-ssl-vit-s-ics_mln_8xb2-160k_ade20k-512x512.py'
TOOL = load_converter('transreid_ssl_to_mmext')


class IBN(nn.Module):

    def __init__(self, planes: int):
        super().__init__()
        self.half = int(planes / 2)
        self.IN = nn.InstanceNorm2d(self.half, affine=True)
        self.BN = nn.BatchNorm2d(planes - self.half)

    def forward(self, x):
        a, b = torch.split(x, self.half, 1)
        return torch.cat((self.IN(a.contiguous()), self.BN(b.contiguous())), 1)


class PatchEmbed(nn.Module):
    """The official ``PatchEmbed(stem_conv=True)``: token stride 2 x 8 = 16."""

    def __init__(self, dim: int, hidden: int = 64):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(3, hidden, 7, 2, 3, bias=False), IBN(hidden), nn.ReLU(inplace=True),
            nn.Conv2d(hidden, hidden, 3, 1, 1, bias=False), IBN(hidden), nn.ReLU(inplace=True),
            nn.Conv2d(hidden, hidden, 3, 1, 1, bias=False), nn.BatchNorm2d(hidden),
            nn.ReLU(inplace=True))
        self.proj = nn.Conv2d(hidden, dim, 8, 8)

    def forward(self, x):
        return self.proj(self.conv(x)).flatten(2).transpose(1, 2)


class Attention(nn.Module):

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        q, k, v = self.qkv(x).reshape(B, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        attn = (q @ k.transpose(-2, -1) * (C // self.heads)**-0.5).softmax(-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(B, N, C))


class Block(nn.Module):

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class OfficialTransReID(nn.Module):
    """``vit_{small,base}_patch16_224_TransReID(stem_conv=True)`` at ``img_size``; returns the
    class token after ``norm`` (the official re-ID feature, GeM pooling off)."""

    def __init__(self, dim: int = 384, heads: int = 6, depth: int = 12, img_size=(256, 128)):
        super().__init__()
        grid = (img_size[0] // 16) * (img_size[1] // 16)
        self.patch_embed = PatchEmbed(dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, grid + 1, dim))
        self.blocks = nn.ModuleList(Block(dim, heads) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x):
        x = self.patch_embed(x)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1) + self.pos_embed
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)[:, 0]


def official_resize_pos_embed(posemb, height: int, width: int, hw_ratio: int = 2):
    """The official ``resize_pos_embed`` of ``load_param`` (bilinear, old grid from
    ``hw_ratio``)."""
    token, grid = posemb[:, :1], posemb[0, 1:]
    gs_h = int(math.sqrt(len(grid) * hw_ratio))
    gs_w = gs_h // hw_ratio
    grid = grid.reshape(1, gs_h, gs_w, -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(height, width), mode='bilinear')
    return torch.cat([token, grid.permute(0, 2, 3, 1).reshape(1, height * width, -1)], dim=1)


def build_backbone(config=CLS_CONFIG, **overrides):
    cfg = Config.fromfile(str(config))
    cfg.model.backbone.update(overrides)
    init_default_scope('mmpretrain')
    return MODELS.build(cfg.model).backbone


def check_features(ours: nn.Module, official: nn.Module, size) -> None:
    x = torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    with torch.no_grad():
        want = official.double().eval()(x)
        got = ours.double().eval()(x)[-1]
    assert_logits_close(got, want)


@pytest.fixture(scope='module')
def official():
    return randomize_(OfficialTransReID()).eval()


def save_dino_teacher(official: nn.Module, path):
    """The DINO training file: the teacher under 'teacher', DDP-wrapped (the stem has BN), with
    the DINO projection head beside the backbone."""
    teacher = {f'module.backbone.{k}': v for k, v in official.state_dict().items()}
    teacher.update({'module.head.mlp.0.weight': torch.randn(8, 384),
                    'module.head.last_layer.weight_v': torch.randn(16, 8)})
    torch.save({'teacher': teacher, 'student': {'module.backbone.x': torch.zeros(1)},
                'epoch': 100}, path)
    return path


def test_dino_teacher_gives_official_features(official, tmp_path):
    src = save_dino_teacher(official, tmp_path / 'checkpoint.pth')
    ckpt = run_converter('transreid_ssl', src, tmp_path / 'converted.pth')
    assert ckpt['meta']['variant'] == 'transreid-ssl-vit-small-ics'
    ours = build_backbone()
    state = {k[len('backbone.'):]: v for k, v in ckpt['state_dict'].items()}
    assert len(state) == len(ckpt['state_dict'])  # backbone tensors only
    ours.load_state_dict(state, strict=True)
    check_features(ours, official, (256, 128))
    # the detection and segmentation configs pick up every converted tensor
    # (at the grid of the file: at other sizes pos_embed is resized, see the next test)
    for config, scope in ((DET_CONFIG, 'mmdet'), (SEG_CONFIG, 'mmseg')):
        check_dense_config_loads(config, scope, tmp_path / 'converted.pth', img_size=(256, 128))


def test_extracted_backbone_and_taller_inputs(official, tmp_path):
    """convert_model_dino.py's plain backbone dict; loaded at 384x128 the 16x8 position grid is
    resized as the official fine-tuning does (bilinear, PRETRAIN_HW_RATIO 2)."""
    src = tmp_path / 'vit_small_ics_cfs_lup.pth'
    torch.save(official.state_dict(), src)
    dst = tmp_path / 'converted.pth'
    run_converter('transreid_ssl', src, dst)
    ours = build_backbone(img_size=(384, 128), init_cfg=dict(
        type='Pretrained', checkpoint=str(dst), prefix='backbone.'))
    ours.init_weights()
    tall = OfficialTransReID(img_size=(384, 128))
    state = official.state_dict()
    state['pos_embed'] = official_resize_pos_embed(state['pos_embed'], 24, 8)
    tall.load_state_dict(state)
    assert torch.allclose(ours.pos_embed, tall.pos_embed, atol=1e-6)
    check_features(ours, tall, (384, 128))


def test_params_and_flops_equal_official():
    """Ours and the official model have the same parameters (ViT-S and ViT-B) and the same
    multiply-adds (ViT-S at 128x64)."""
    for arch, (dim, heads) in (('small', (384, 6)), ('base', (768, 12))):
        with torch.device('meta'):  # shapes only
            ref = OfficialTransReID(dim, heads)
            ours = build_backbone(arch=arch)
        count = [sum(p.numel() for p in m.parameters()) for m in (ref, ours)]
        assert count[0] == count[1], (arch, count)
    flops = []
    for model in (OfficialTransReID(img_size=(128, 64)), build_backbone(img_size=(128, 64))):
        fa = FlopAnalyzer(model.eval(), (torch.randn(1, 3, 128, 64), ))
        # mmpretrain's attention runs in one fused op, which the analyzer does not count
        fa.set_op_handle('aten::scaled_dot_product_attention', sdpa_flops)
        fa.unsupported_ops_warnings(False)
        fa.uncalled_modules_warnings(False)
        flops.append(fa.total())
    assert flops[0] == flops[1], flops


def sdpa_flops(inputs, outputs) -> int:
    """Multiply-adds of ``scaled_dot_product_attention``: QK^T and AV."""
    q, k, v = (get_shape(x) for x in inputs[:3])
    return int(np.prod(q[:-1]) * k[-2] * (q[-1] + v[-1]))


def test_refuses_other_layouts(official, tmp_path):
    src = official.state_dict()
    with pytest.raises(TOOL.ConversionError, match='blocks.0.attn.extra'):
        TOOL.convert({**src, 'blocks.0.attn.extra': torch.zeros(1)})
    no_stem = {k: v for k, v in src.items() if not k.startswith('patch_embed.conv.')}
    no_stem['patch_embed.proj.weight'] = torch.zeros(384, 3, 16, 16)
    with pytest.raises(TOOL.ConversionError, match='no ICS stem'):
        TOOL.convert(no_stem)
    with pytest.raises(TOOL.ConversionError, match='neither'):
        TOOL.convert({**src, 'pos_embed': torch.zeros(1, 129, 192)})
    dino = {f'backbone.{k}': v for k, v in src.items()}
    with pytest.raises(TOOL.ConversionError, match='outside "backbone."'):
        TOOL.convert({**dino, 'student.x': torch.zeros(1)})
    other = tmp_path / 'other.pth'
    torch.save({'model': {'fc.weight': torch.zeros(2, 2)}}, other)
    assert 'pos_embed' in converter_error('transreid_ssl', other, tmp_path / 'out.pth')
