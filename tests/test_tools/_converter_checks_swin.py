"""Official-layout Swin pieces and the checks shared by the ELSA-Swin and STViT-R converter tests.

The modules rebuild the official models' state-dict layout (key names, shapes, buffers) and
forward, as read in damo-cv/ELSA and changsn/STViT-R (both derived from the official Swin code):
window attention with its relative-position bias, the shifted-window mask, the timm MLP and Swin's
patch merging. A converter is proven by converting a randomised instance and comparing logits.
"""
from pathlib import Path
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import MODELS, init_default_scope

from _converter_checks import REPO, load_converter, randomize_  # noqa: F401


def window_partition(x: torch.Tensor, w: int) -> torch.Tensor:
    """(B, H, W, C) -> (B * H/w * W/w, w * w, C)."""
    B, H, W, C = x.shape
    x = x.view(B, H // w, w, W // w, w, C).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, w * w, C)


def window_reverse(x: torch.Tensor, w: int, H: int, W: int) -> torch.Tensor:
    """(B * H/w * W/w, w * w, C) -> (B, H, W, C)."""
    C = x.shape[-1]
    x = x.view(-1, H // w, W // w, w, w, C).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, H, W, C)


class Mlp(nn.Module):
    """timm's MLP: ``fc1``, GELU, ``fc2``."""

    def __init__(self, dim: int, ratio: float = 4.):
        super().__init__()
        self.fc1 = nn.Linear(dim, int(dim * ratio))
        self.fc2 = nn.Linear(int(dim * ratio), dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class PatchMerging(nn.Module):
    """Swin's patch merging: concat of the 2x2 pixels (0,0), (1,0), (0,1), (1,1), norm, linear."""

    def __init__(self, resolution: Tuple[int, int], dim: int):
        super().__init__()
        self.resolution = resolution
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(4 * dim)

    def forward(self, x):
        B, _, C = x.shape
        x = x.view(B, *self.resolution, C)
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1)
        return self.reduction(self.norm(x.view(B, -1, 4 * C)))


def offset_index(w: int, query_minus_key: bool = True) -> torch.Tensor:
    """(w*w, w*w) index of the relative offset (query - key, or key - query) of two tokens of a
    ``w x w`` window into a ``(2w-1)^2`` table, row offset major."""
    coords = torch.stack(torch.meshgrid(torch.arange(w), torch.arange(w), indexing='ij'))
    coords = coords.flatten(1)
    rel = coords[:, :, None] - coords[:, None, :]  # (2, Nq, Nk): query - key
    rel = (rel if query_minus_key else -rel) + w - 1
    return rel[0] * (2 * w - 1) + rel[1]


class WindowAttention(nn.Module):
    """Window attention with relative-position bias; subclasses hold the weights under their
    official names and say how to read q, k, v and the bias from them."""

    def split_qkv(self, x):
        raise NotImplementedError

    def bias(self):
        raise NotImplementedError

    def out_proj(self, x):
        raise NotImplementedError

    def forward(self, x, mask: Optional[torch.Tensor] = None):
        B, N, C = x.shape
        q, k, v = self.split_qkv(x)  # each (B, heads, N, C // heads)
        attn = q @ k.transpose(-2, -1) * (C // self.heads)**-0.5 + self.bias()[None]
        if mask is not None:
            nW = mask.shape[0]
            attn = attn.view(B // nW, nW, self.heads, N, N) + mask[None, :, None]
            attn = attn.view(B, self.heads, N, N)
        x = (attn.softmax(-1) @ v).transpose(1, 2).reshape(B, N, C)
        return self.out_proj(x)


class SwinWindowAttention(WindowAttention):
    """Swin's: ``qkv`` rows q, k, v; table ``((2w-1)^2, heads)`` indexed by query - key."""

    def __init__(self, dim: int, heads: int, window: int):
        super().__init__()
        self.heads, self.window = heads, window
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1)**2, heads))
        self.register_buffer('relative_position_index', offset_index(window))
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def split_qkv(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        return qkv[0], qkv[1], qkv[2]

    def bias(self):
        N = self.window**2
        table = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        return table.view(N, N, -1).permute(2, 0, 1)

    def out_proj(self, x):
        return self.proj(x)


class SwinBlock(nn.Module):
    """Official Swin block at a fixed resolution: a map no larger than the window is one
    window without shift; shifted windows use the -100 mask kept as the ``attn_mask`` buffer."""

    def __init__(self, dim: int, heads: int, resolution: Tuple[int, int], window: int = 7,
                 shift: bool = False, attention=SwinWindowAttention):
        super().__init__()
        self.resolution = resolution
        shift_size = window // 2 if shift else 0
        if min(resolution) <= window:
            shift_size, window = 0, min(resolution)
        self.window, self.shift = window, shift_size
        self.norm1 = nn.LayerNorm(dim)
        self.attn = attention(dim, heads, window)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim)
        mask = None
        if shift_size:
            img = torch.zeros(1, *resolution, 1)
            cuts = (slice(0, -window), slice(-window, -shift_size), slice(-shift_size, None))
            for n, (h, w) in enumerate((h, w) for h in cuts for w in cuts):
                img[:, h, w] = n
            ids = window_partition(img, window).squeeze(-1)
            mask = (ids[:, None, :] - ids[:, :, None]).ne(0).float() * -100.
        self.register_buffer('attn_mask', mask)

    def forward(self, x):
        B, L, C = x.shape
        H, W = self.resolution
        y = self.norm1(x).view(B, H, W, C)
        y = torch.roll(y, (-self.shift, -self.shift), (1, 2)) if self.shift else y
        y = self.attn(window_partition(y, self.window), self.attn_mask)
        y = window_reverse(y, self.window, H, W)
        y = torch.roll(y, (self.shift, self.shift), (1, 2)) if self.shift else y
        x = x + y.reshape(B, L, C)
        return x + self.mlp(self.norm2(x))


class Stage(nn.Module):
    """``blocks`` then an optional ``downsample``, as the official ``BasicLayer``."""

    def __init__(self, blocks, downsample: Optional[nn.Module] = None):
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.downsample = downsample

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return self.downsample(x) if self.downsample is not None else x


class OfficialClassifier(nn.Module):
    """The official classifiers' top level: ``patch_embed`` -> tokens, the ``layers``, ``norm``,
    mean over the tokens, linear ``head``."""

    def __init__(self, patch_embed: nn.Module, layers, width: int, num_classes: int = 1000):
        super().__init__()
        self.patch_embed = patch_embed
        self.layers = nn.ModuleList(layers)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, num_classes)

    def forward(self, x):
        x = self.patch_embed(x)
        for layer in self.layers:
            x = layer(x)
        return self.head(self.norm(x).mean(1))


def build_classifier(config: Path, **backbone):
    """The ImageClassifier of an mmext ImageNet config (backbone arguments overridden)."""
    cfg = Config.fromfile(str(config))
    cfg.model.backbone.update(backbone)
    init_default_scope('mmpretrain')
    return MODELS.build(cfg.model)


def save_official(official: nn.Module, path: Path, **extras) -> Path:
    """Save ``official`` as the authors' training scripts do: ``{'model': state_dict, ...}``."""
    torch.save({'model': official.state_dict(), 'epoch': 299, **extras}, path)
    return path


def check_round_trip(tool, official: nn.Module, src: Path, config: Path, variant: str,
                     **backbone) -> Path:
    """Convert the saved ``official`` model ``src``, load the result with ``strict=True`` into
    the classifier of ``config`` and compare the logits on a 224x224 image (float64, relative
    difference <= 1e-5). Returns the converted file."""
    dst = src.parent / 'converted.pth'
    tool.converter_main(tool.convert, 'test', [str(src), str(dst)])
    converted = torch.load(dst, map_location='cpu')
    assert converted['meta']['variant'] == variant
    model = build_classifier(config, **backbone)
    model.load_state_dict(converted['state_dict'], strict=True)
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(1),
                    dtype=torch.float64)
    with torch.no_grad():
        want = official.double().eval()(x)
        got = model.double().eval()(x, mode='tensor')
    assert want.std() > 0.1  # the random weights give distinct logits
    err = ((got - want).abs().max() / want.abs().max()).item()
    assert err <= 1e-5, f'relative logit difference {err:.2e}'
    return dst


def check_dense_config_loads(config: Path, scope: str, converted: Path, **backbone) -> None:
    """A detection / segmentation config picks the converted backbone up through
    ``init_cfg=dict(type='Pretrained', prefix='backbone.')``: every converted tensor arrives
    unchanged, and only the extra output norms of the dense stages stay as initialised."""
    cfg = Config.fromfile(str(config))
    cfg.model.backbone.update(backbone, init_cfg=dict(
        type='Pretrained', checkpoint=str(converted), prefix='backbone.'))
    init_default_scope(scope)
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
    model.init_weights()
    state = model.backbone.state_dict()
    loaded = {k[len('backbone.'):]: v for k, v in
              torch.load(converted, map_location='cpu')['state_dict'].items()
              if k.startswith('backbone.')}
    for key, value in loaded.items():
        assert torch.equal(state[key], value), key
    left = sorted(set(state) - set(loaded))
    assert all(k.split('.')[0] in ('norm0', 'norm1', 'norm2') for k in left), left

