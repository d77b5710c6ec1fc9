"""tools/model_converters/supervit_to_mmext.py: an official-layout SuperViT converts exactly."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from _converter_checks_cnn import (assert_same_logits, convert_and_compare, load_converter,
                                   randomized)

# Reference in the layout of lmbxmu/SuperViT deit/super_deit.py (super_deit_s: DeiT-S, patch 16,
# one position embedding per image size 128/160/192/224, LayerNorm eps 1e-6); at keep rate 1
# no token is dropped, which is what these logits check.


class Block(nn.Module):

    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(dim, eps=1e-6), nn.LayerNorm(dim, eps=1e-6)
        self.attn = nn.Module()
        self.attn.qkv, self.attn.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.mlp = nn.Module()
        self.mlp.fc1, self.mlp.fc2 = nn.Linear(dim, 4 * dim), nn.Linear(4 * dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        q, k, v = self.attn.qkv(self.norm1(x)).reshape(B, N, 3, self.heads, -1).permute(
            2, 0, 3, 1, 4)
        attn = (q @ k.transpose(-2, -1) * (C // self.heads)**-0.5).softmax(-1)
        x = x + self.attn.proj((attn @ v).transpose(1, 2).reshape(B, N, C))
        return x + self.mlp.fc2(F.gelu(self.mlp.fc1(self.norm2(x))))


class OfficialSuperDeiT(nn.Module):

    def __init__(self, dim=384, depth=12, heads=6, sizes=(128, 160, 192, 224)):
        super().__init__()
        self.sizes, self.img_size = sizes, sizes[-1]
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(3, dim, 16, 16)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed_list = nn.ParameterList(
            nn.Parameter(torch.zeros(1, (s // 16)**2 + 1, dim)) for s in sizes)
        self.blocks = nn.ModuleList(Block(dim, heads) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, 1000)

    def forward(self, x):
        img_size = self.img_size  # the official forward's argument
        x = F.interpolate(x, (img_size, img_size), mode='bilinear', align_corners=True)
        x = self.patch_embed.proj(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(len(x), -1, -1), x], 1)
        x = x + self.pos_embed_list[self.sizes.index(img_size)]
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.norm(x)[:, 0])


@pytest.fixture(scope='module')
def reference():
    return randomized(OfficialSuperDeiT())


def test_official_super_deit_s_converts_to_equal_logits(tmp_path, reference):
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    model, report = convert_and_compare(tmp_path, 'supervit_to_mmext', reference, 'model',
                                        'supervit/supervit-deit-small_4xb256-300e_in1k.py', x,
                                        test_setting=(14, 1.0))
    assert report.startswith('supervit-deit-small (grids [8, 10, 12, 14]): mapped')
    # another grid: the image resized to 160 and the third position embedding
    reference.img_size = 160
    model.test_setting = (10, 1.0)
    assert_same_logits(model, reference, x)


def test_wrong_checkpoint_names_first_unplaced_key(reference):
    script = load_converter('supervit_to_mmext')
    state_dict = dict(reference.state_dict(), **{'dist_token': torch.zeros(1, 1, 384)})
    with pytest.raises(script.ConversionError, match='dist_token'):
        script.convert(state_dict)
    # an LV-ViT SuperViT (patch_embed.conv1..., no cls_token of a DeiT width) is refused
    with pytest.raises(script.ConversionError, match='patch_embed.conv1.weight'):
        script.convert({'patch_embed.conv1.weight': torch.zeros(64, 3, 7, 7)})
