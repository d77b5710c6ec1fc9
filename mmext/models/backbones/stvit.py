"""STViT-R: Swin Transformer with recurrent semantic tokens.

Chang et al., "Making Vision Transformers Efficient from A Token Sparsification View",
arXiv:2303.08685 (CVPR 2023). Structure facts (conv stem, 6-block semantic groups in stage 3,
3x3 max-pooled semantic tokens per 7x7 window, 10x10 overlapping key windows, layer scale 1e-5,
no residual around the generation attention, no learned global tokens in the released Swin-S)
follow the official repository changsn/STViT-R; its released Swin-S log reports 49.63M
parameters and 5.83 GFLOPs.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule, build_norm_layer
from mmcv.cnn.bricks.drop import build_dropout
from mmcv.cnn.bricks.transformer import FFN, PatchMerging
from mmengine.model import BaseModule
from mmpretrain.models.backbones.base_backbone import BaseBackbone
from mmpretrain.models.backbones.swin_transformer import SwinBlock, SwinBlockSequence

from mmext.registry import MODELS
from ..layers.backbone_utils import FrozenStagesMixin, freeze_modules

__all__ = ['STViT', 'SemanticBlock', 'SemanticTokenGeneration', 'STViTRStage']


class _CrossAttention(BaseModule):
    """Multi-head attention whose queries and keys/values may come from different tokens."""

    def __init__(self, dims: int, num_heads: int, qkv_bias: bool = True,
                 attn_drop: float = 0., proj_drop: float = 0.) -> None:
        super().__init__()
        if dims % num_heads:
            raise ValueError(f'embed dims {dims} must be divisible by num_heads {num_heads}')
        self.num_heads = num_heads
        self.scale = (dims // num_heads)**-0.5
        self.q = nn.Linear(dims, dims, bias=qkv_bias)
        self.kv = nn.Linear(dims, dims * 2, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dims, dims)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        B, N, C = x.shape
        h = self.num_heads
        # (B, N, C) -> (B, heads, N, C // heads)
        q = self.q(x).reshape(B, N, h, C // h).transpose(1, 2)
        k, v = self.kv(y).reshape(B, y.shape[1], 2, h, C // h).permute(2, 0, 3, 1, 4).unbind(0)
        # softmax in fp32: AMP-safe logits
        attn = ((q * self.scale) @ k.transpose(-2, -1)).float().softmax(-1).to(q.dtype)
        out = (self.attn_drop(attn) @ v).transpose(1, 2).reshape(B, N, C)
        return self.proj_drop(self.proj(out))


def _window_partition(x: torch.Tensor, window: int) -> torch.Tensor:
    """(B, H, W, C) -> (B * H/w * W/w, w * w, C); H and W must be multiples of ``window``."""
    B, H, W, C = x.shape
    x = x.view(B, H // window, window, W // window, window, C)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window * window, C)


def _window_reverse(x: torch.Tensor, window: int, H: int, W: int) -> torch.Tensor:
    """Inverse of :func:`_window_partition`: -> (B, H, W, C)."""
    C = x.shape[-1]
    x = x.view(-1, H // window, W // window, window, window, C)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, H, W, C)


def _build_cross_block_layers(block: nn.Module, embed_dims: int, num_heads: int,
                              ffn_ratio: float, qkv_bias: bool, drop_path: float,
                              layer_scale_init_value: float, norm_cfg: Dict) -> None:
    """Give ``block`` the layers of a pre-norm cross-attention block with layer scale.

    ``norm1`` / ``attn`` (queries -> keys) / ``norm2`` / ``ffn`` / ``drop_path`` and the layer
    scales ``gamma1`` / ``gamma2`` of both residual branches: the parameters that
    :class:`SemanticBlock` and :class:`SemanticTokenGeneration` share (their forwards differ).
    """
    block.norm1 = build_norm_layer(norm_cfg, embed_dims)[1]
    block.attn = _CrossAttention(embed_dims, num_heads, qkv_bias)
    block.norm2 = build_norm_layer(norm_cfg, embed_dims)[1]
    block.ffn = FFN(embed_dims, int(embed_dims * ffn_ratio), act_cfg=dict(type='GELU'),
                    add_identity=False)
    block.drop_path = build_dropout(dict(type='DropPath', drop_prob=drop_path))
    block.gamma1 = nn.Parameter(layer_scale_init_value * torch.ones(embed_dims))
    block.gamma2 = nn.Parameter(layer_scale_init_value * torch.ones(embed_dims))


class SemanticBlock(BaseModule):
    """Pre-norm transformer block whose queries attend to another token set.

    From "Making Vision Transformers Efficient from A Token Sparsification View"
    (arXiv:2303.08685). It is used three ways in an STViT-R group: semantic tokens attending to
    semantic + image tokens (global), semantic tokens attending among themselves (inside
    ``window`` x ``window`` windows of the semantic grid, or globally), and image tokens
    attending to the semantic tokens (the *recovery* that restores dense features). Both
    residual branches are scaled by a learnable layer scale.

    Args:
        embed_dims (int): Token dimension.
        num_heads (int): Attention heads.
        ffn_ratio (float): MLP hidden ratio. Defaults to 4.
        qkv_bias (bool): Bias in the q / kv projections. Defaults to True.
        drop_path (float): Stochastic depth rate. Defaults to 0.
        layer_scale_init_value (float): Initial layer scale. Defaults to 1e-5.
        window (int, optional): Local self-attention window on the semantic grid; None for
            global attention. Defaults to None.
        norm_cfg (dict): Norm config. Defaults to ``dict(type='LN')``.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 ffn_ratio: float = 4.,
                 qkv_bias: bool = True,
                 drop_path: float = 0.,
                 layer_scale_init_value: float = 1e-5,
                 window: Optional[int] = None,
                 norm_cfg: Dict = dict(type='LN'),
                 init_cfg: Optional[Dict] = None) -> None:
        super().__init__(init_cfg)
        self.window = window
        _build_cross_block_layers(self, embed_dims, num_heads, ffn_ratio, qkv_bias, drop_path,
                                  layer_scale_init_value, norm_cfg)

    def forward(self, x: torch.Tensor, y: Optional[torch.Tensor] = None,
                hw: Optional[Tuple[int, int]] = None) -> torch.Tensor:
        """x: queries (B, N, C); y: keys/values (B, M, C) or None (self); hw: grid of x."""
        q = self.norm1(x)
        if self.window is not None:
            if y is not None or hw is None:
                raise ValueError('a windowed SemanticBlock needs hw and no separate keys')
            windows = _window_partition(q.view(-1, *hw, q.shape[-1]), self.window)
            out = _window_reverse(self.attn(windows, windows), self.window, *hw)
            out = out.flatten(1, 2)
        else:
            out = self.attn(q, q if y is None else self.norm1(y))
        x = x + self.drop_path(self.gamma1 * out)
        return x + self.drop_path(self.gamma2 * self.ffn(self.norm2(x)))


class SemanticTokenGeneration(BaseModule):
    """Initialise semantic tokens by window pooling and refine them by attention.

    From "Making Vision Transformers Efficient from A Token Sparsification View"
    (arXiv:2303.08685). Each ``window`` x ``window`` window of image tokens is max-pooled to
    ``num_semantic`` x ``num_semantic`` cluster centres, which then attend to themselves and to
    an enlarged key window (the window plus ``key_overlap`` tokens of context; key windows are
    spread evenly over the map, which reproduces the official 10x10 / stride-4 windows on a
    14x14 map). As in the released model there is no residual around this attention.

    Args:
        embed_dims (int): Token dimension.
        num_heads (int): Attention heads.
        window (int): Image-token window size. Defaults to 7.
        num_semantic (int): Semantic tokens per window side. Defaults to 3.
        key_overlap (int): Extra context tokens per key-window side. Defaults to 3.
        ffn_ratio (float): MLP hidden ratio. Defaults to 4.
        qkv_bias (bool): Bias in the projections. Defaults to True.
        drop_path (float): Stochastic depth rate. Defaults to 0.
        layer_scale_init_value (float): Initial layer scale. Defaults to 1e-5.
        norm_cfg (dict): Norm config. Defaults to ``dict(type='LN')``.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 window: int = 7,
                 num_semantic: int = 3,
                 key_overlap: int = 3,
                 ffn_ratio: float = 4.,
                 qkv_bias: bool = True,
                 drop_path: float = 0.,
                 layer_scale_init_value: float = 1e-5,
                 norm_cfg: Dict = dict(type='LN'),
                 init_cfg: Optional[Dict] = None) -> None:
        super().__init__(init_cfg)
        if not 1 <= num_semantic <= window:
            raise ValueError(f'"num_semantic" must be in [1, window={window}], got '
                             f'{num_semantic}')
        if key_overlap < 0:
            raise ValueError(f'"key_overlap" must be >= 0, got {key_overlap}')
        self.window = window
        self.num_semantic = num_semantic
        self.key_overlap = key_overlap
        _build_cross_block_layers(self, embed_dims, num_heads, ffn_ratio, qkv_bias, drop_path,
                                  layer_scale_init_value, norm_cfg)

    def _key_index(self, size: int, device: torch.device) -> torch.Tensor:
        """Row (or column) indices (num_windows, k) of the evenly spread key windows."""
        size = int(size)  # a traced shape may be a tensor
        n = size // self.window
        k = min(self.window + self.key_overlap, size)
        starts = [0] * n if n == 1 else [round(i * (size - k) / (n - 1)) for i in range(n)]
        return torch.tensor(starts, device=device)[:, None] + torch.arange(k, device=device)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int]]:
        """x: image tokens (B, H, W, C), H and W multiples of ``window``.

        Returns semantic tokens (B, H/w*s * W/w*s, C) laid out as a grid, and that grid.
        """
        B, H, W, C = x.shape
        w, s = self.window, self.num_semantic
        nh, nw = H // w, W // w
        # (B * nW, C, w, w) -> max-pool -> (B * nW, s * s, C)
        windows = _window_partition(x, w).transpose(1, 2).reshape(-1, C, w, w)
        init = F.adaptive_max_pool2d(windows, s).flatten(2).transpose(1, 2)
        rows, cols = self._key_index(H, x.device), self._key_index(W, x.device)
        # (B, nh, nw, kh, kw, C) -> (B * nW, kh * kw, C)
        keys = x[:, rows[:, None, :, None], cols[None, :, None, :]]
        keys = keys.reshape(B * nh * nw, -1, C)
        keys = self.norm1(torch.cat([init, keys], dim=1))
        out = self.gamma1 * self.attn(self.norm1(init), keys)
        grid = (nh * s, nw * s)
        out = _window_reverse(out, s, *grid).flatten(1, 2)
        out = out + self.drop_path(self.gamma2 * self.ffn(self.norm2(out)))
        return out, grid


class STViTRStage(BaseModule):
    """A Swin stage made of STViT-R groups of six blocks (then optional patch merging).

    From "Making Vision Transformers Efficient from A Token Sparsification View"
    (arXiv:2303.08685). Each group: a window-attention Swin block on the image tokens;
    semantic-token generation; semantic tokens attending globally to semantic + image tokens;
    local (per-window) and global self-attention among semantic tokens; and recovery, where the
    image tokens attend to the semantic tokens, so the stage still outputs a dense map. Only
    the first block of a group touches all image tokens with full attention cost.

    Args:
        embed_dims (int): Token dimension.
        depth (int): Number of blocks, a multiple of 6.
        num_heads (int): Attention heads.
        window_size (int): Swin / semantic window size. Defaults to 7.
        num_semantic (int): Semantic tokens per window side. Defaults to 3.
        key_overlap (int): Context tokens added to each generation key window. Defaults to 3.
        downsample (bool): Patch merging at the end. Defaults to True.
        drop_paths (Sequence[float] | float): Drop path rate per block. Defaults to 0.
        layer_scale_init_value (float): Initial layer scale of the semantic blocks.
            Defaults to 1e-5.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 embed_dims: int,
                 depth: int,
                 num_heads: int,
                 window_size: int = 7,
                 num_semantic: int = 3,
                 key_overlap: int = 3,
                 downsample: bool = True,
                 drop_paths: Union[Sequence[float], float] = 0.,
                 layer_scale_init_value: float = 1e-5,
                 init_cfg: Optional[Dict] = None) -> None:
        super().__init__(init_cfg)
        if depth % 6:
            raise ValueError(f'the STViT-R stage depth must be a multiple of 6, got {depth}')
        if not isinstance(drop_paths, Sequence):
            drop_paths = [drop_paths] * depth
        self.embed_dims = embed_dims
        self.window_size = window_size
        ls = dict(layer_scale_init_value=layer_scale_init_value)
        self.groups = nn.ModuleList()
        for g in range(depth // 6):
            dp = drop_paths[6 * g:6 * g + 6]
            self.groups.append(nn.ModuleDict(dict(
                swin=SwinBlock(embed_dims, num_heads, window_size, shift=False,
                               drop_path=dp[0], pad_small_map=True),
                generate=SemanticTokenGeneration(embed_dims, num_heads, window_size,
                                                 num_semantic, key_overlap,
                                                 drop_path=dp[1], **ls),
                semantic_global=SemanticBlock(embed_dims, num_heads, drop_path=dp[2], **ls),
                semantic_local=SemanticBlock(embed_dims, num_heads, drop_path=dp[3],
                                             window=num_semantic, **ls),
                semantic_self=SemanticBlock(embed_dims, num_heads, drop_path=dp[4], **ls),
                recover=SemanticBlock(embed_dims, num_heads, drop_path=dp[5], **ls))))
        self.downsample = PatchMerging(embed_dims, 2 * embed_dims, norm_cfg=dict(type='LN')) \
            if downsample else None

    @property
    def out_channels(self) -> int:
        return 2 * self.embed_dims if self.downsample is not None else self.embed_dims

    def forward(self, x: torch.Tensor, in_shape: Tuple[int, int],
                do_downsample: bool = True) -> Tuple[torch.Tensor, Tuple[int, int]]:
        B, _, C = x.shape
        H, W = in_shape
        w = self.window_size
        # Pad the map to whole windows once (any input size); cropped before leaving.
        ph, pw = -H % w, -W % w
        x = x.view(B, H, W, C)
        if ph or pw:
            x = F.pad(x, (0, 0, 0, pw, 0, ph))
        Hp, Wp = H + ph, W + pw
        x = x.reshape(B, Hp * Wp, C)
        for group in self.groups:
            x = group['swin'](x, (Hp, Wp))
            sem, grid = group['generate'](x.view(B, Hp, Wp, C))
            sem = group['semantic_global'](sem, torch.cat([sem, x], dim=1))
            sem = group['semantic_local'](sem, hw=grid)
            sem = group['semantic_self'](sem)
            x = group['recover'](x, sem)
        x = x.view(B, Hp, Wp, C)[:, :H, :W].reshape(B, H * W, C)
        if self.downsample is not None and do_downsample:
            return self.downsample(x, in_shape)
        return x, in_shape


@MODELS.register_module()
class STViT(FrozenStagesMixin, BaseBackbone):
    """STViT-R backbone: Swin Transformer with semantic tokens and recovery.

    From "Making Vision Transformers Efficient from A Token Sparsification View"
    (Chang et al., arXiv:2303.08685). In the third Swin stage, where most of the computation
    is, every group of six blocks runs full-resolution attention only once; a few semantic
    tokens per window (cluster centres: window max-pooling refined by attention) carry the
    other blocks, and a recovery attention writes their information back into the dense image
    tokens. Stages 1, 2 and 4 are standard Swin stages; the stem is the official two
    stride-2 3x3 conv-BN-Hardswish layers. All four stages give dense maps, so the backbone
    serves detection and segmentation (``out_indices=(0, 1, 2, 3)``).

    Args:
        arch (str | dict): ``'tiny'``, ``'small'``, ``'base'`` or a dict with ``embed_dims``,
            ``depths`` and ``num_heads``. Defaults to ``'small'``.
        in_channels (int): Input image channels. Defaults to 3.
        window_size (int): Window size of all stages. Defaults to 7.
        num_semantic (int): Semantic tokens per window side. Defaults to 3.
        key_overlap (int): Context tokens around each generation key window. Defaults to 3.
        semantic_stages (Sequence[int]): Stages built as :class:`STViTRStage`.
            Defaults to (2, ).
        drop_path_rate (float): Stochastic depth rate (linear over all blocks).
            Defaults to 0.1.
        layer_scale_init_value (float): Initial layer scale of the semantic blocks.
            Defaults to 1e-5.
        out_indices (Sequence[int] | int): Stages whose (normed) maps are returned.
            Defaults to (3, ).
        frozen_stages (int): Freeze the stem (0) and the first ``frozen_stages`` stages;
            -1 freezes nothing. Defaults to -1.
        norm_eval (bool): Keep BN layers (stem) in eval mode while training. Defaults to False.
        init_cfg (dict | list[dict], optional): Initialization config. Defaults to
            truncated normal for Linear and constant for LayerNorm.
    """

    arch_zoo = {
        **dict.fromkeys(['t', 'tiny'], {
            'embed_dims': 96, 'depths': [2, 2, 6, 2], 'num_heads': [3, 6, 12, 24]}),
        **dict.fromkeys(['s', 'small'], {
            'embed_dims': 96, 'depths': [2, 2, 18, 2], 'num_heads': [3, 6, 12, 24]}),
        **dict.fromkeys(['b', 'base'], {
            'embed_dims': 128, 'depths': [2, 2, 18, 2], 'num_heads': [4, 8, 16, 32]}),
    }

    def __init__(self,
                 arch: Union[str, Dict] = 'small',
                 in_channels: int = 3,
                 window_size: int = 7,
                 num_semantic: int = 3,
                 key_overlap: int = 3,
                 semantic_stages: Sequence[int] = (2, ),
                 drop_path_rate: float = 0.1,
                 layer_scale_init_value: float = 1e-5,
                 out_indices: Union[Sequence[int], int] = (3, ),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 init_cfg: Optional[Union[Dict, List[Dict]]] = [
                     dict(type='TruncNormal', layer='Linear', std=.02, bias=0.),
                     dict(type='Constant', layer='LayerNorm', val=1., bias=0.)
                 ]) -> None:
        super().__init__(init_cfg)
        if isinstance(arch, str):
            if arch not in self.arch_zoo:
                raise ValueError(f'"arch" must be one of {sorted(self.arch_zoo)} or a dict, '
                                 f'got {arch!r}')
            arch = self.arch_zoo[arch]
        if not isinstance(arch, dict) or not {'embed_dims', 'depths', 'num_heads'} <= set(arch):
            raise ValueError('a custom "arch" needs keys embed_dims, depths and num_heads')
        depths, heads = list(arch['depths']), list(arch['num_heads'])
        if len(depths) != len(heads):
            raise ValueError(f'"arch.depths" {depths} and "arch.num_heads" {heads} differ in '
                             'length')
        num_stages = len(depths)
        for i in semantic_stages:
            if not 0 <= i < num_stages:
                raise ValueError(f'"semantic_stages" {i} out of range for {num_stages} stages')
            if depths[i] % 6:
                raise ValueError(f'"arch.depths[{i}]" must be a multiple of 6 for a semantic '
                                 f'stage, got {depths[i]}')
        if isinstance(out_indices, int):
            out_indices = [out_indices]
        self.out_indices = []
        for i in out_indices:
            if not -num_stages <= i < num_stages:
                raise ValueError(f'"out_indices" {i} out of range for {num_stages} stages')
            self.out_indices.append(i % num_stages)
        if not -1 <= frozen_stages <= num_stages:
            raise ValueError(f'"frozen_stages" must be in [-1, {num_stages}], got '
                             f'{frozen_stages}')
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        dims = arch['embed_dims']

        # Conv stem of the official STViT-R (stride 4, no patch norm).
        act = dict(type='HSwish')
        self.patch_embed = nn.Sequential(
            ConvModule(in_channels, dims // 2, 3, 2, 1, bias=False, norm_cfg=dict(type='BN'),
                       act_cfg=act),
            ConvModule(dims // 2, dims, 3, 2, 1, bias=False, norm_cfg=dict(type='BN'),
                       act_cfg=act))
        # plain Python (no tensor op): the model can also be built on the meta device
        total = sum(depths)
        dpr = [drop_path_rate * i / max(total - 1, 1) for i in range(total)]
        self.stages = nn.ModuleList()
        self.num_features = []
        for i, (depth, nh) in enumerate(zip(depths, heads)):
            c = dims * 2**i
            dp = dpr[sum(depths[:i]):sum(depths[:i + 1])]
            last = i == num_stages - 1
            if i in semantic_stages:
                stage = STViTRStage(c, depth, nh, window_size, num_semantic, key_overlap,
                                    downsample=not last, drop_paths=dp,
                                    layer_scale_init_value=layer_scale_init_value)
            else:
                stage = SwinBlockSequence(c, depth, nh, window_size, downsample=not last,
                                          drop_paths=dp, pad_small_map=True)
            self.stages.append(stage)
            self.num_features.append(c)
        for i in self.out_indices:
            self.add_module(f'norm{i}', build_norm_layer(dict(type='LN'),
                                                         self.num_features[i])[1])
        self._freeze_stages()

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        x = self.patch_embed(x)
        hw = (x.shape[2], x.shape[3])
        # (B, C, H, W) -> (B, H*W, C)
        x = x.flatten(2).transpose(1, 2)
        outs = []
        for i, stage in enumerate(self.stages):
            x, hw = stage(x, hw, do_downsample=False)
            if i in self.out_indices:
                out = getattr(self, f'norm{i}')(x)
                outs.append(out.view(-1, *hw, self.num_features[i]).permute(0, 3, 1,
                                                                           2).contiguous())
            if stage.downsample is not None:
                x, hw = stage.downsample(x, hw)
        return tuple(outs)

    def _freeze_stages(self) -> None:
        if self.frozen_stages < 0:
            return
        modules = [self.patch_embed] + list(self.stages[:self.frozen_stages])
        modules += [getattr(self, f'norm{i}') for i in self.out_indices
                    if i < self.frozen_stages]
        freeze_modules(modules)
