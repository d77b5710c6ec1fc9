"""tools/model_converters/pslt_to_mmext.py: an official-layout PSLT converts to equal logits."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope

from _converter_checks_cnn import (ROOT, convert_and_compare, convert_file, load_converter,
                                   randomized)

# Reference in the layout of lazyGj/PSLT classification/pslt.py (PSLT_tiny: stem width 24,
# conv depths 3-3, ladder depths 10-3, heads 4-8, window 7, 224x224 input): key names, shapes
# and forward are the official facts; the code is ours.


class SE(nn.Module):
    """ChannelSELayer (spatial maps, after a global mean) / ChannelSELayer_SA (tokens)."""

    def __init__(self, c):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(c, c // 2), nn.Linear(c // 2, c)

    def forward(self, x, spatial):
        s = x.mean((2, 3)) if spatial else x
        g = torch.sigmoid(self.fc2(F.relu(self.fc1(s))))
        return x * (g[..., None, None] if spatial else g)


class MV2(nn.Module):

    def __init__(self, cin, cout, stride):
        super().__init__()
        h = cin * 4
        self.res = stride == 1 and cin == cout
        self.conv = nn.Sequential(
            nn.Conv2d(cin, h, 1, bias=False), nn.GELU(), nn.BatchNorm2d(h),
            nn.Conv2d(h, h, 3, stride, 1, groups=h, bias=False), nn.GELU(), nn.BatchNorm2d(h),
            nn.Conv2d(h, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.se = SE(cout)

    def forward(self, x):
        out = self.se(self.conv(x), spatial=True)
        return x + out if self.res else out


def windows(x, ws):  # (B, H, W, C) -> (B * nW, ws * ws, C)
    B, H, W, C = x.shape
    return x.view(B, H // ws, ws, W // ws, ws, C).permute(0, 1, 3, 2, 4, 5).reshape(-1, ws * ws, C)


def unwindows(w, ws, B, H, W):
    return w.view(B, H // ws, W // ws, ws, ws, -1).permute(0, 1, 3, 2, 4, 5).reshape(B, H, W, -1)


class Attention(nn.Module):

    def __init__(self, dim, ws, heads, input_v):
        super().__init__()
        self.heads = heads
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * ws - 1)**2, heads))
        c = torch.stack(torch.meshgrid(torch.arange(ws), torch.arange(ws), indexing='ij'))
        rel = (c.flatten(1)[:, :, None] - c.flatten(1)[:, None, :]).permute(1, 2, 0) + ws - 1
        self.register_buffer('relative_position_index', rel[..., 0] * (2 * ws - 1) + rel[..., 1])
        if input_v:
            self.kv = nn.Linear(dim, 2 * dim)
        else:
            self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, mask, in_v):
        B, N, C = x.shape
        split = lambda t, n: t.reshape(B, N, n, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        if in_v is None:
            q, k, v = split(self.qkv(x), 3)
        else:
            q, k = split(self.kv(x), 2)
            v = split(in_v, 1)[0]
        attn = (q * (C // self.heads)**-0.5) @ k.transpose(-2, -1)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        attn = attn + bias.view(N, N, -1).permute(2, 0, 1)
        if mask is not None:
            attn = (attn.view(-1, mask.shape[0], self.heads, N, N) + mask[None, :, None])
            attn = attn.view(B, self.heads, N, N)
        out = self.proj((attn.softmax(-1) @ v).transpose(1, 2).reshape(B, N, C))
        return out + x if in_v is not None else out


class Branch(nn.Module):
    """LadderSABlock: (shifted) window attention + light FFN with biased convs."""

    def __init__(self, dim, res, heads, shift, direction, input_v):
        super().__init__()
        self.res, self.ws, self.shift, self.direction = res, min(7, res), shift, direction
        if res <= 7:
            self.shift = 0
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, self.ws, heads, input_v)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Module()
        self.mlp.conv = nn.Sequential(
            nn.Conv2d(dim, dim, 1), nn.GELU(), nn.BatchNorm2d(dim),
            nn.Conv2d(dim, dim, 3, 1, 1, groups=dim), nn.GELU(), nn.BatchNorm2d(dim),
            nn.Conv2d(dim, dim, 1), nn.BatchNorm2d(dim))
        mask = None
        if self.shift:
            ws, s = self.ws, self.shift
            img = torch.zeros(1, res, res, 1)
            if direction == 1:
                cuts = (slice(0, -ws), slice(-ws, -s), slice(-s, None))
            else:
                cuts = (slice(0, s), slice(s, ws), slice(ws, None))
            for i, (h, w) in enumerate((h, w) for h in cuts for w in cuts):
                img[:, h, w] = i
            mw = windows(img, ws).squeeze(-1)
            mask = mw[:, None] - mw[:, :, None]
            mask = mask.masked_fill(mask != 0, -100.).masked_fill(mask == 0, 0.)
        self.register_buffer('attn_mask', mask)

    def forward(self, x, in_v):
        B, L, C = x.shape
        H = W = self.res
        roll = -self.shift if self.direction == 1 else self.shift
        y = torch.roll(self.norm1(x).view(B, H, W, C), (roll, roll), (1, 2))
        v = None if in_v is None else windows(torch.roll(in_v.view(B, H, W, C), (roll, roll),
                                                         (1, 2)), self.ws)
        out = self.attn(windows(y, self.ws), self.attn_mask, v)
        out = torch.roll(unwindows(out, self.ws, B, H, W), (-roll, -roll), (1, 2))
        x = x + out.reshape(B, L, C)
        m = self.mlp.conv(self.norm2(x).view(B, H, W, C).permute(0, 3, 1, 2))
        return x + m.permute(0, 2, 3, 1).reshape(B, L, C)


class Ladder(nn.Module):

    def __init__(self, dim, res, heads):
        super().__init__()
        d = dim // 3
        self.blocks = nn.ModuleList(
            Branch(d, res, heads, shift=[0, 3, 3][i], direction=[1, 1, 0][i], input_v=i > 0)
            for i in range(3))
        self.pointconv = nn.Linear(dim, dim)
        self.se = SE(dim)

    def forward(self, x):
        d, outs = x.shape[-1] // 3, []
        for i, blk in enumerate(self.blocks):
            outs.append(blk(x[..., i * d:(i + 1) * d], outs[-1] if i else None))
        xs = self.se(torch.cat(outs, -1), spatial=False)
        return self.pointconv(xs) + xs


class Merge(nn.Module):
    """Swin PatchMerging: cat(x0, x1, x2, x3), LayerNorm(4C), Linear(4C, 2C)."""

    def __init__(self, dim, res):
        super().__init__()
        self.res = res
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(4 * dim)

    def forward(self, x):
        B, L, C = x.shape
        x = x.view(B, self.res, self.res, C)
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1)
        return self.reduction(self.norm(x.view(B, -1, 4 * C)))


class Layer(nn.Module):

    def __init__(self, dim, res, depth, heads, downsample):
        super().__init__()
        self.blocks = nn.ModuleList(Ladder(dim, res, heads) for _ in range(depth))
        self.downsample = Merge(dim, res) if downsample else None

    def forward(self, x):
        for blk in self.blocks:
            x = blk(x)
        return x if self.downsample is None else self.downsample(x)


class OfficialPSLT(nn.Module):

    def __init__(self, E=24, num_classes=1000):
        super().__init__()
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Sequential(
            nn.Conv2d(3, E // 2, 3, 2, 1, bias=False), nn.GELU(), nn.BatchNorm2d(E // 2),
            nn.Conv2d(E // 2, E, 3, 1, 1, bias=False), nn.GELU(), nn.BatchNorm2d(E),
            nn.Conv2d(E, E, 3, 1, 1, bias=False), nn.GELU(), nn.BatchNorm2d(E))
        self.conv_layers = nn.ModuleList()
        for t in range(2):
            for j in range(3):
                cin = E * 2**(t + 1) if j else E * 2**t
                self.conv_layers.append(MV2(cin, E * 2**(t + 1), 1 if j else 2))
        self.conv_layers.append(MV2(4 * E, 8 * E, 2))
        self.layers = nn.ModuleList([Layer(8 * E, 14, 10, 4, True), Layer(16 * E, 7, 3, 8, False)])
        self.norm = nn.LayerNorm(16 * E)
        self.head = nn.Linear(16 * E, num_classes)

    def forward(self, x):
        x = self.patch_embed.proj(x)
        for blk in self.conv_layers:
            x = blk(x)
        x = x.flatten(2).transpose(1, 2)
        for layer in self.layers:
            x = layer(x)
        return self.head(self.norm(x).mean(1))


@pytest.fixture(scope='module')
def reference():
    return randomized(OfficialPSLT())


def test_official_pslt_tiny_converts_to_equal_logits(tmp_path, reference):
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    # strict loading also proves that our PSLT now has exactly the official tensors (the light
    # FFN's conv biases included)
    _, report = convert_and_compare(tmp_path, 'pslt_to_mmext', reference, 'model',
                                    'pslt/pslt-tiny_8xb128-300e_in1k.py', x)
    assert report.startswith('pslt-tiny: mapped')


def test_patch_merging_reorder_is_a_permutation():
    unfold_order = load_converter('convert_utils').swin_merging_to_unfold
    C = 3
    swin = torch.arange(4 * C)  # block j of Swin's concat holds neighbour j, channel c
    ours = unfold_order(swin)
    # nn.Unfold: index c * 4 + row * 2 + col; Swin's neighbour (row, col) is block col * 2 + row
    expected = [(col * 2 + row) * C + c for c in range(C) for row in range(2) for col in range(2)]
    assert ours.tolist() == expected


def test_wrong_checkpoint_names_first_unplaced_key(reference):
    script = load_converter('pslt_to_mmext')
    convert, error = script.convert, script.ConversionError
    state_dict = dict(reference.state_dict(), **{'layers.1.extra.weight': torch.zeros(1)})
    with pytest.raises(error, match='layers.1.extra.weight'):
        convert(state_dict)
    with pytest.raises(error, match='"fc.weight"'):
        convert({'fc.weight': torch.zeros(2, 2)})


def test_detection_config_loads_converted_backbone(tmp_path):
    """configs/pslt/retinanet_*: the converted official PSLT enters through init_cfg."""
    from mmdet.registry import MODELS
    official = randomized(OfficialPSLT(E=36))  # PSLT, the variant of the detection configs
    dst, _ = convert_file(tmp_path, 'pslt_to_mmext', official.state_dict(), 'model')
    cfg = Config.fromfile(str(ROOT / 'configs/pslt/retinanet_pslt_fpn_ms-640-800-1x_coco.py'))
    cfg.model.backbone.init_cfg.checkpoint = str(dst)
    init_default_scope('mmdet')
    detector = MODELS.build(cfg.model)
    detector.init_weights()
    converted = {k[len('backbone.'):]: v for k, v in torch.load(dst)['state_dict'].items()
                 if k.startswith('backbone.')}
    loaded = detector.backbone.state_dict()
    # only the stride-16 output norm of the dense configs is not in a classification checkpoint
    assert set(loaded) - set(converted) == {'norm2.weight', 'norm2.bias'}
    for key, value in converted.items():
        assert torch.equal(loaded[key], value), key
