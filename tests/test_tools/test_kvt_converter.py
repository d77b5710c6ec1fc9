"""tools/model_converters/kvt_to_mmext.py against a reference in the official (timm) layout.

``OfficialKVT`` below is written for this test from the facts of the official model
(damo-cv/KVT ``KNN_VisionTransformer.py``, timm's DeiT): its parameter names and shapes and its
forward (cls token + position embedding, pre-norm blocks with LayerNorm eps 1e-6, attention
logits outside each query's top-k set to -inf before the softmax, final norm, head on the cls
token). With ``topk=None`` it is plain DeiT.
"""
import pytest
import torch
import torch.nn as nn

import mmext  # noqa: F401
from mmext.models.backbones.kvt import KVT

# sibling modules of this file (pytest puts this folder on sys.path)
from _converter_checks import (check_edited_checkpoint_fails, check_init_refuses,
                               check_layout_fits_config, check_round_trip, randomize_,
                               run_converter, save_deit_style)

CONFIG = 'configs/kvt/kvt-deit-{}_4xb256-300e_in1k.py'
WIDTHS = {'tiny': 192, 'small': 384, 'base': 768}


class _Attention(nn.Module):

    def __init__(self, dim, heads, topk):
        super().__init__()
        self.heads, self.topk = heads, topk
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        q, k, v = self.qkv(x).reshape(B, N, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        attn = q @ k.transpose(-2, -1) * q.shape[-1]**-0.5
        if self.topk is not None:
            kept = attn.topk(self.topk, dim=-1).indices
            keep = torch.zeros_like(attn, dtype=torch.bool).scatter_(-1, kept, True)
            attn = attn.masked_fill(~keep, float('-inf'))
        return self.proj((attn.softmax(-1) @ v).transpose(1, 2).reshape(B, N, C))


class _Block(nn.Module):

    def __init__(self, dim, heads, topk):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = _Attention(dim, heads, topk)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Module()
        self.mlp.fc1, self.mlp.act, self.mlp.fc2 = (nn.Linear(dim, 4 * dim), nn.GELU(),
                                                    nn.Linear(4 * dim, dim))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp.fc2(self.mlp.act(self.mlp.fc1(self.norm2(x))))


class OfficialKVT(nn.Module):
    """timm / DeiT ``VisionTransformer`` (patch 16, 224x224, depth 12) with KVT's attention."""

    def __init__(self, arch='tiny', topk=100, num_classes=1000):
        super().__init__()
        dim = WIDTHS[arch]
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(3, dim, 16, 16)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 197, dim))
        self.blocks = nn.ModuleList(_Block(dim, dim // 64, topk) for _ in range(12))
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):
        x = self.patch_embed.proj(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(len(x), -1, -1), x], 1) + self.pos_embed
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.norm(x)[:, 0])


# float64: with topk=100 of 197 keys, a float32 rounding difference between two paths can swap
# a near-tied 100th / 101st key, which is not a conversion error; in float64 no tie is that close.
@pytest.mark.parametrize('topk', [100, None])
def test_tiny_round_trip_gives_official_logits(topk, tmp_path):
    check_round_trip('kvt', OfficialKVT('tiny', topk), CONFIG.format('tiny'),
                     torch.randn(2, 3, 224, 224), tmp_path, variant='deit-tiny',
                     backbone=dict(attn_cfg=dict(type='mmext.KNNAttention', topk=topk)),
                     dtype=torch.float64)


@pytest.mark.parametrize('arch', ['small', 'base'])
def test_small_base_layouts_detected_and_fit_configs(arch):
    check_layout_fits_config('kvt', lambda: OfficialKVT(arch), CONFIG.format(arch), f'deit-{arch}')


def _official_tiny_state():
    return randomize_(OfficialKVT('tiny', num_classes=10)).state_dict()


def _distilled(sd):
    # DeiT's distilled models: a second token (198 positions) and a second head
    sd['dist_token'] = torch.zeros(1, 1, 192)
    sd['pos_embed'] = torch.zeros(1, 198, 192)
    sd['head_dist.weight'], sd['head_dist.bias'] = torch.zeros(10, 192), torch.zeros(10)


@pytest.mark.parametrize('edit,message', [
    (lambda sd: sd.update({'blocks.3.ls1.gamma': torch.ones(192)}),
     'could not place source key "blocks.3.ls1.gamma"'),
    (lambda sd: sd.pop('blocks.11.attn.proj.bias'),
     'source key "blocks.11.attn.proj.bias" not found'),
    (_distilled, 'source key "pos_embed" has 198 tokens'),
    (lambda sd: sd.pop('blocks.11.norm1.weight'), 'unknown DeiT layout'),
    (lambda sd: sd.pop('cls_token'), 'not a timm-layout DeiT checkpoint'),
])
def test_mismatched_checkpoint_stops_with_the_first_unplaced_key(edit, message, tmp_path):
    check_edited_checkpoint_fails('kvt', _official_tiny_state(), edit, message, tmp_path)


def test_backbone_refuses_unconverted_or_other_variant_loads_converted(tmp_path):
    src = save_deit_style(_official_tiny_state(), tmp_path / 'official.pth')
    check_init_refuses(KVT, src, 'kvt_to_mmext.py SRC DST')
    ckpt = run_converter('kvt', src, tmp_path / 'converted.pth')
    # converted DeiT-Tiny weights do not fit DeiT-Small (no tensor has its shape)
    check_init_refuses(lambda **kw: KVT('deit-small', **kw), tmp_path / 'converted.pth',
                       r'0 of its \d+ tensors found')
    backbone = KVT(init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'converted.pth'),
                                 prefix='backbone.'))
    backbone.init_weights()
    for k, v in backbone.state_dict().items():
        assert torch.equal(v, ckpt['state_dict'][f'backbone.{k}']), k
