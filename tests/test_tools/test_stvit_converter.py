"""tools/model_converters/stvit_to_mmext.py: an official STViT-R file gives our model its logits.

The reference below rebuilds the official STViT-R (changsn/STViT-R, models/swin_transformer.py
and models/layers.py, released settings: max-pooled 3x3 semantic tokens per 7x7 window, no
generation shortcut, no global tokens) in its state-dict layout and forward: conv-BN-Hardswish
stem, Swin stages 1, 2, 4 (the 7x7 last stage as one unshifted window), and a third stage whose
blocks repeat Swin block, semantic-token generation (keys from 10x10 / stride-4 windows), global,
local and self attention of the semantic tokens, recovery.
"""
import math
import sys
import types

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from _converter_checks_swin import (REPO, Mlp, OfficialClassifier, PatchMerging, Stage, SwinBlock,
                                     check_dense_config_loads, check_round_trip, load_converter,
                                     randomize_, save_official)

CONFIG = REPO / 'configs' / 'stvit' / 'stvit-r-swin-small_8xb128-300e_in1k.py'
DET_CONFIG = REPO / 'configs' / 'stvit' / 'mask-rcnn_stvit-r-swin-s_fpn_1x_coco.py'
WINDOW, SAMPLES = 7, 3


class Attention(nn.Module):
    """Queries from x, keys / values from y (``q``, ``kv``, ``proj``)."""

    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, y):
        B, N, C = x.shape
        h = self.heads
        q = self.q(x).reshape(B, N, h, C // h).transpose(1, 2)
        k, v = self.kv(y).reshape(B, y.shape[1], 2, h, C // h).permute(2, 0, 3, 1, 4)
        attn = (q @ k.transpose(-2, -1) * (C // h)**-0.5).softmax(-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(B, N, C))


class LayerScaleBlock(nn.Module):
    """Pre-norm attention + MLP block with ``layer_scale_1`` / ``layer_scale_2``."""

    def __init__(self, dim, heads):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim)
        self.layer_scale_1 = nn.Parameter(torch.full((dim, ), 1e-5))
        self.layer_scale_2 = nn.Parameter(torch.full((dim, ), 1e-5))


class Block(LayerScaleBlock):
    """Official ``Block``: attention to y (default x), or within ``local`` x ``local`` windows
    of a square token grid."""

    def __init__(self, dim, heads, local=None):
        super().__init__(dim, heads)
        self.local = local

    def forward(self, x, y=None):
        shortcut, B, L, C = x, *x.shape
        y = x if y is None else y
        x = self.norm1(x)
        if self.local:
            side, w = int(math.sqrt(L)), self.local
            x = x.view(B, side // w, w, side // w, w, C).permute(0, 1, 3, 2, 4, 5)
            x = x.reshape(-1, w * w, C)
            attn = self.attn(x, x).view(B, side // w, side // w, w, w, C)
            attn = attn.permute(0, 1, 3, 2, 4, 5).reshape(B, L, C)
        else:
            attn = self.attn(x, self.norm1(y))
        x = shortcut + self.layer_scale_1 * attn
        return x + self.layer_scale_2 * self.mlp(self.norm2(x))


class SemanticAttentionBlock(LayerScaleBlock):
    """Official token generation: 3x3 max-pooled tokens per 7x7 window attend to themselves and
    a 10x10 / stride-4 key window; no residual around the attention."""

    def forward(self, x):
        B, L, C = x.shape
        H = W = int(math.sqrt(L))
        x = x.view(B, H, W, C)
        windows = x.reshape(B, H // WINDOW, WINDOW, W // WINDOW, WINDOW, C)
        windows = windows.permute(0, 1, 3, 2, 4, 5).reshape(-1, WINDOW, WINDOW, C)
        pooled = F.adaptive_max_pool2d(windows.permute(0, 3, 1, 2), SAMPLES)
        pooled = pooled.flatten(2).transpose(1, 2)  # (B * nW, 9, C)
        queries = self.norm1(pooled.reshape(B, -1, C)).reshape(-1, SAMPLES**2, C)
        keys = F.unfold(x.permute(0, 3, 1, 2), kernel_size=10, stride=4)
        keys = keys.view(B, C, 10, 10, -1).permute(0, 4, 2, 3, 1).reshape(-1, 100, C)
        keys = torch.cat([pooled, keys], dim=1)
        keys = self.norm1(keys.reshape(B, -1, C)).reshape(-1, 100 + SAMPLES**2, C)
        x = self.layer_scale_1 * self.attn(queries, keys)
        x = x.view(B, H // WINDOW, W // WINDOW, SAMPLES, SAMPLES, C).permute(0, 1, 3, 2, 4, 5)
        x = x.reshape(B, -1, C)
        return x + self.layer_scale_2 * self.mlp(self.norm2(x))


class SemanticStage(Stage):
    """The official third stage (``Deit``): groups of six blocks in one ``blocks`` list."""

    def forward(self, x):
        for g in range(0, len(self.blocks), 6):
            swin, generate, glob, local, self_attn, recover = self.blocks[g:g + 6]
            x = swin(x)
            sem = generate(x)
            sem = glob(sem, torch.cat([sem, x], dim=1))
            sem = self_attn(local(sem))
            x = recover(x, sem)
        return self.downsample(x)


class ConvBN(nn.Sequential):

    def __init__(self, cin, cout):
        super().__init__()
        self.add_module('c', nn.Conv2d(cin, cout, 3, 2, 1, bias=False))
        self.add_module('bn', nn.BatchNorm2d(cout))


class PatchEmbed(nn.Module):

    def __init__(self, dim):
        super().__init__()
        self.proj = nn.Sequential(ConvBN(3, dim // 2), nn.Hardswish(), ConvBN(dim // 2, dim),
                                  nn.Hardswish())

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


def official_stvit_r_tiny() -> OfficialClassifier:
    """The official STViT-R ``SwinTransformer`` with Swin-T's sizes (2-2-6-2 blocks) at 224x224
    in its key layout, weights randomised."""
    layers = []
    for i, (depth, heads) in enumerate(zip((2, 2, 6, 2), (3, 6, 12, 24))):
        dim, res = 96 * 2**i, (56 // 2**i, 56 // 2**i)
        merge = PatchMerging(res, dim) if i < 3 else None
        if i != 2:
            blocks = [SwinBlock(dim, heads, res, shift=j % 2 == 1) for j in range(depth)]
            layers.append(Stage(blocks, merge))
            continue
        blocks = []
        for _ in range(depth // 6):
            blocks += [SwinBlock(dim, heads, res), SemanticAttentionBlock(dim, heads),
                       Block(dim, heads), Block(dim, heads, local=SAMPLES), Block(dim, heads),
                       Block(dim, heads)]
        layers.append(SemanticStage(blocks, merge))
    return randomize_(OfficialClassifier(PatchEmbed(96), layers, 768)).eval()


TOOL = load_converter('stvit_to_mmext')


@pytest.fixture(scope='module')
def official():
    return official_stvit_r_tiny()


def _pickled_yacs_config(monkeypatch) -> dict:
    """A ``yacs`` ``CfgNode`` as the official training script saves beside the weights; yacs
    is not installed here, so the file is only readable by skipping what cannot be imported."""
    yacs = types.ModuleType('yacs.config')
    yacs.CfgNode = type('CfgNode', (dict, ), {'__module__': 'yacs.config'})
    monkeypatch.setitem(sys.modules, 'yacs', types.ModuleType('yacs'))
    monkeypatch.setitem(sys.modules, 'yacs.config', yacs)
    return {'config': yacs.CfgNode(MODEL=yacs.CfgNode(TYPE='swin'))}


def test_official_logits_and_detection_config(official, tmp_path, monkeypatch):
    with monkeypatch.context() as patch:  # yacs importable only while the file is written
        src = save_official(official, tmp_path / 'official.pth', **_pickled_yacs_config(patch))
    # our configs are STViT-R-Swin-S / -B; the same classifier with the tiny arch
    converted = check_round_trip(TOOL, official, src, CONFIG, 'stvit-r-swin-tiny', arch='tiny')
    check_dense_config_loads(DET_CONFIG, 'mmdet', converted, arch='tiny')


def test_groups_and_merging(official):
    state, _ = TOOL.convert(official.state_dict())
    src = official.state_dict()
    assert torch.equal(state['backbone.stages.2.groups.0.recover.gamma1'],
                       src['layers.2.blocks.5.layer_scale_1'])
    norm = state['backbone.stages.0.downsample.norm.weight']
    assert torch.equal(norm[:4], src['layers.0.downsample.norm.weight'][[0, 192, 96, 288]])


def test_refuses_other_layouts(official):
    src = official.state_dict()
    # learned global semantic tokens (USE_GLOBAL): our STViT-R has none
    with pytest.raises(TOOL.ConversionError, match='layers.2.semantic_token2'):
        TOOL.convert({**src, 'layers.2.semantic_token2': torch.zeros(1, 36, 384)})
    wider = {**src, 'patch_embed.proj.2.c.weight': torch.zeros(64, 48, 3, 3)}
    with pytest.raises(TOOL.ConversionError, match='patch_embed.proj.2.c.weight'):
        TOOL.convert(wider)
    with pytest.raises(TOOL.ConversionError, match='patch_embed.proj.2.c.weight'):
        TOOL.convert({'patch_embed.proj.weight': torch.zeros(96, 3, 4, 4)})

