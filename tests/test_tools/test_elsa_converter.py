"""tools/model_converters/elsa_to_mmext.py: an official ELSA-Swin file gives our model its logits.

The reference below rebuilds the official ELSA-Swin (damo-cv/ELSA, cls/models/elsa_swin.py and
cls/models/elsa/elsa.py) in its state-dict layout and forward: ELSA blocks with the additive ghost
head ``(1, C, k, k)`` and the unfold aggregation of the official CPU path, Swin patch merging at
the end of stages 1-3, and a last stage whose window attention stores its projection rows as
v, q, k and its bias table as ``rb`` ``(heads, (2w-1)^2)`` indexed by key - query.
"""
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from _converter_checks_swin import (REPO, Mlp, OfficialClassifier, PatchMerging, Stage, SwinBlock,
                                     WindowAttention, check_dense_config_loads, check_round_trip,
                                     load_converter, offset_index, randomize_,
                                     save_official)

CONFIG = REPO / 'configs' / 'elsa' / 'elsa-swin-tiny_8xb128-300e_in1k.py'
DET_CONFIG = REPO / 'configs' / 'elsa' / 'mask-rcnn_elsa-swin-t-p4-w7_fpn_ms-crop-1x_coco.py'


class ELSAWindowAttention(WindowAttention):
    """ELSA-Swin's last-stage attention: ``pre_proj`` rows v, q, k; ``rb`` (heads, L) indexed
    through the flat ``relative_id`` buffer by key - query."""

    def __init__(self, dim: int, heads: int, window: int):
        super().__init__()
        self.heads, self.window = heads, window
        self.rb = nn.Parameter(torch.zeros(heads, (2 * window - 1)**2))
        self.register_buffer('relative_id', offset_index(window, False).view(-1))
        self.pre_proj = nn.Linear(dim, 3 * dim)
        self.post_proj = nn.Linear(dim, dim)

    def split_qkv(self, x):
        B, N, C = x.shape
        feat = self.pre_proj(x).reshape(B, N, 3, self.heads, C // self.heads)
        v, q, k = feat.permute(2, 0, 3, 1, 4)
        return q, k, v

    def bias(self):
        N = self.window**2
        return self.rb[:, self.relative_id].reshape(self.heads, N, N)

    def out_proj(self, x):
        return self.post_proj(x)


class OfficialELSA(nn.Module):
    """ELSA with ELSA-Swin's settings (lambda 0, gamma 1, qk scale 1, qkv bias)."""

    def __init__(self, dim: int, heads: int, group_width: int, kernel: int = 7):
        super().__init__()
        self.heads, self.kernel = heads, kernel
        self.dim_qk = math.ceil(dim // 3 * 2 / group_width) * group_width
        self.pre_proj = nn.Conv2d(dim, 2 * self.dim_qk + dim, 1)
        self.attn = nn.Sequential(
            nn.Conv2d(self.dim_qk, self.dim_qk, kernel, padding=kernel // 2,
                      groups=self.dim_qk // group_width),
            nn.GELU(),
            nn.Conv2d(self.dim_qk, kernel**2 * heads, 1))
        self.ghost_head = nn.Parameter(torch.zeros(1, dim, kernel, kernel))
        self.post_proj = nn.Linear(dim, dim)

    def forward(self, x):  # (B, H, W, C)
        B, H, W, C = x.shape
        G, k, K = self.heads, self.kernel, self.kernel**2
        q, key, v = self.pre_proj(x.permute(0, 3, 1, 2)).split(
            (self.dim_qk, self.dim_qk, C), dim=1)
        attn = self.attn(q * key).reshape(B * G, K, H, W).softmax(1)
        # official CPU path: unfolded values times the filters mul * attn + add, mul = 1
        feats = F.unfold(v.reshape(B * G, C // G, H, W), k, padding=k // 2)
        feats = feats.reshape(B * G, C // G, K, H * W)
        add = self.ghost_head.expand(B, C, k, k).reshape(B * G, C // G, K, 1)
        out = (feats * (attn.reshape(B * G, 1, K, H * W) + add)).sum(2)
        return self.post_proj(out.reshape(B, C, H, W).permute(0, 2, 3, 1))


class OfficialELSABlock(nn.Module):

    def __init__(self, dim, heads, resolution, group_width):
        super().__init__()
        self.resolution = resolution
        self.norm1 = nn.LayerNorm(dim)
        self.attn = OfficialELSA(dim, heads, group_width)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim)

    def forward(self, x):
        B, L, C = x.shape
        x = x.view(B, *self.resolution, C)
        x = x + self.attn(self.norm1(x))
        x = x + self.mlp(self.norm2(x))
        return x.view(B, L, C)


class PatchEmbed(nn.Module):

    def __init__(self, dim):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, 4, 4)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x):
        return self.norm(self.proj(x).flatten(2).transpose(1, 2))


def official_elsa_swin_tiny() -> OfficialClassifier:
    """The official ``elsa_swin_tiny`` at 224x224 in its key layout, weights randomised."""
    layers = []
    for i, (depth, heads) in enumerate(zip((2, 2, 6, 2), (3, 6, 12, 24))):
        dim, res = 96 * 2**i, (56 // 2**i, 56 // 2**i)
        if i < 3:
            blocks = [OfficialELSABlock(dim, heads, res, group_width=4) for _ in range(depth)]
        else:
            blocks = [SwinBlock(dim, heads, res, shift=j % 2 == 1, attention=ELSAWindowAttention)
                      for j in range(depth)]
        layers.append(Stage(blocks, PatchMerging(res, dim) if i < 3 else None))
    return randomize_(OfficialClassifier(PatchEmbed(96), layers, 768)).eval()


TOOL = load_converter('elsa_to_mmext')


@pytest.fixture(scope='module')
def official():
    return official_elsa_swin_tiny()


def test_official_logits_and_detection_config(official, tmp_path):
    src = save_official(official, tmp_path / 'official.pth')
    converted = check_round_trip(TOOL, official, src, CONFIG, 'elsa-swin-tiny')
    check_dense_config_loads(DET_CONFIG, 'mmdet', converted)


def test_relayouts_are_needed(official):
    """Each re-layout changes the tensor (a plain copy would give other logits)."""
    state, _ = TOOL.convert(official.state_dict())
    src = official.state_dict()
    qkv = state['backbone.stages.3.blocks.0.attn.w_msa.qkv.weight']
    assert torch.equal(qkv[:768], src['layers.3.blocks.0.attn.pre_proj.weight'][768:1536])
    table = state['backbone.stages.3.blocks.0.attn.w_msa.relative_position_bias_table']
    assert torch.equal(table[0], src['layers.3.blocks.0.attn.rb'][:, -1])
    norm = state['backbone.stages.1.downsample.norm.weight']
    assert torch.equal(norm[:4], src['layers.0.downsample.norm.weight'][[0, 192, 96, 288]])
    assert state['backbone.stages.0.blocks.0.attn.ghost_add'].shape == (96, 49)


def test_refuses_other_layouts(official):
    src = official.state_dict()
    with pytest.raises(TOOL.ConversionError, match='layers.0.blocks.0.attn.extra'):
        TOOL.convert({**src, 'layers.0.blocks.0.attn.extra': torch.zeros(1)})
    ghost = 'layers.0.blocks.0.attn.ghost_head'
    both_heads = {**src, ghost: torch.zeros(2, 1, 96, 7, 7)}  # lambda != 0: not ELSA-Swin
    with pytest.raises(TOOL.ConversionError, match=ghost):
        TOOL.convert(both_heads)
    wider = {**src, 'patch_embed.proj.weight': torch.zeros(64, 3, 4, 4)}
    with pytest.raises(TOOL.ConversionError, match='patch_embed.proj.weight'):
        TOOL.convert(wider)
    with pytest.raises(TOOL.ConversionError, match='"patch_embed.proj.weight" not found'):
        TOOL.convert({k: v for k, v in src.items() if not k.startswith('patch_embed')})


def test_command_line_error(tmp_path):
    src = tmp_path / 'other.pth'
    torch.save({'model': {'fc.weight': torch.zeros(2, 2)}}, src)
    with pytest.raises(SystemExit, match='error: .*patch_embed.proj.weight'):
        TOOL.converter_main(TOOL.convert, 'test', [str(src), str(tmp_path / 'out.pth')])

