"""STViT-R (Swin Transformer with recovered semantic tokens) and the DeiT-based STViT.

Chang et al., "Making Vision Transformers Efficient from A Token Sparsification View",
arXiv:2303.08685 (CVPR 2023). Structure facts (conv stem, 6-block semantic groups in stage 3,
3x3 max-pooled semantic tokens per 7x7 window, 10x10 overlapping key windows, layer scale 1e-5,
no residual around the generation attention, no learned global tokens in the released Swin-S)
follow the official repository changsn/STViT-R; its released Swin-S log reports 49.63M
parameters and 5.83 GFLOPs. The DeiT-based STViT (:class:`STViTDeiT`) is not in that repository;
it reuses the same generation / semantic blocks, with the layout documented on the class.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule, build_norm_layer
from mmcv.cnn.bricks.drop import build_dropout
from mmcv.cnn.bricks.transformer import FFN, PatchMerging
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_
from mmpretrain.models.backbones.base_backbone import BaseBackbone
from mmpretrain.models.backbones.swin_transformer import SwinBlock, SwinBlockSequence
from mmpretrain.models.backbones.vision_transformer import VisionTransformer
from mmpretrain.models.utils import resize_pos_embed

from mmext.registry import MODELS
from ..layers.backbone_utils import (FrozenStagesMixin, PretrainedCheckMixin, freeze_modules,
                                     normalize_indices, resolve_arch, stage_modules)

__all__ = ['STViT', 'STViTDeiT', 'SemanticBlock', 'SemanticTokenGeneration', 'STViTRStage',
           'WeightedCellPooling']


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
    14x14 map). As in the released model there is no residual around this attention unless
    ``shortcut`` is set (the official ``SHORTCUT`` option). With ``window=None`` the whole map
    is pooled to one ``num_semantic`` x ``num_semantic`` grid whose tokens attend to all image
    tokens: the global form used by the plain-ViT (DeiT) STViT, where ``weighted_pool`` replaces
    the max pooling by the authors' learned weighted pooling (:class:`WeightedCellPooling`).

    Args:
        embed_dims (int): Token dimension.
        num_heads (int): Attention heads.
        window (int, optional): Image-token window size; None pools the whole map (global
            semantic tokens, any map size). Defaults to 7.
        num_semantic (int): Semantic tokens per window (or map) side. Defaults to 3.
        key_overlap (int): Extra context tokens per key-window side; unused when ``window``
            is None. Defaults to 3.
        shortcut (bool): Add the pooled tokens back to the attention output (a residual
            around the generation attention). Defaults to False.
        weighted_pool (bool): Initialise the tokens with :class:`WeightedCellPooling` instead of
            max pooling; only with ``window=None``. Defaults to False.
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
                 window: Optional[int] = 7,
                 num_semantic: int = 3,
                 key_overlap: int = 3,
                 shortcut: bool = False,
                 weighted_pool: bool = False,
                 ffn_ratio: float = 4.,
                 qkv_bias: bool = True,
                 drop_path: float = 0.,
                 layer_scale_init_value: float = 1e-5,
                 norm_cfg: Dict = dict(type='LN'),
                 init_cfg: Optional[Dict] = None) -> None:
        super().__init__(init_cfg)
        if weighted_pool and window is not None:
            raise ValueError('"weighted_pool" pools the whole map: it needs window=None')
        self.pool = WeightedCellPooling(embed_dims, num_semantic) if weighted_pool else None
        if window is None:
            if num_semantic < 1:
                raise ValueError(f'"num_semantic" must be >= 1, got {num_semantic}')
        elif not 1 <= num_semantic <= window:
            raise ValueError(f'"num_semantic" must be in [1, window={window}], got '
                             f'{num_semantic}')
        if key_overlap < 0:
            raise ValueError(f'"key_overlap" must be >= 0, got {key_overlap}')
        self.window = window
        self.num_semantic = num_semantic
        self.key_overlap = key_overlap
        self.shortcut = shortcut
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
        """x: image tokens (B, H, W, C), H and W multiples of ``window`` (any with None).

        Returns semantic tokens (B, H/w*s * W/w*s, C) laid out as a grid, and that grid
        ((s, s) for ``window=None``).
        """
        B, H, W, C = x.shape
        s = self.num_semantic
        if self.window is None:
            # (B, C, H, W) -> pool -> (B, s * s, C); keys: all image tokens
            fmap = x.permute(0, 3, 1, 2)
            if self.pool is not None:
                init = self.pool(fmap)
            else:
                init = F.adaptive_max_pool2d(fmap, s).flatten(2).transpose(1, 2)
            keys = x.reshape(B, H * W, C)
            grid = (s, s)
        else:
            w = self.window
            nh, nw = H // w, W // w
            # (B * nW, C, w, w) -> max-pool -> (B * nW, s * s, C)
            windows = _window_partition(x, w).transpose(1, 2).reshape(-1, C, w, w)
            init = F.adaptive_max_pool2d(windows, s).flatten(2).transpose(1, 2)
            rows, cols = self._key_index(H, x.device), self._key_index(W, x.device)
            # (B, nh, nw, kh, kw, C) -> (B * nW, kh * kw, C)
            keys = x[:, rows[:, None, :, None], cols[None, :, None, :]]
            keys = keys.reshape(B * nh * nw, -1, C)
            grid = (nh * s, nw * s)
        keys = self.norm1(torch.cat([init, keys], dim=1))
        out = self.gamma1 * self.attn(self.norm1(init), keys)
        if self.shortcut:
            out = init + self.drop_path(out)
        if self.window is not None:
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


class _SwinStage(SwinBlockSequence):
    """mmpretrain's Swin stage with the official rule for a map that fits one window.

    The official Swin code (and STViT-R) builds a block without shift when the map is no larger
    than the window (``min(input_resolution) <= window_size``): at 224x224 the 7x7 last stage is
    one plain window. mmpretrain's ``pad_small_map=True`` keeps the shift and attends within
    masked sub-windows there. Maps smaller than the window are still padded to one window, so
    any input size works.
    """

    def forward(self, x: torch.Tensor, in_shape: Tuple[int, int],
                do_downsample: bool = True) -> Tuple[torch.Tensor, Tuple[int, int]]:
        for block in self.blocks:
            attn = block.attn
            shift = attn.shift_size
            if not shift or min(in_shape) > attn.window_size:
                x = block(x, in_shape)
                continue
            # ShiftWindowMSA reads its shift in forward; no gradient checkpointing here that
            # would re-run the block after the shift is restored
            attn.shift_size = 0
            try:
                x = block(x, in_shape)
            finally:
                attn.shift_size = shift
        if self.downsample is not None and do_downsample:
            return self.downsample(x, in_shape)
        return x, in_shape


@MODELS.register_module()
class STViT(PretrainedCheckMixin, FrozenStagesMixin, BaseBackbone):
    """STViT-R backbone: Swin Transformer with semantic tokens and recovery.

    From "Making Vision Transformers Efficient from A Token Sparsification View"
    (Chang et al., arXiv:2303.08685). In the third Swin stage, where most of the computation
    is, every group of six blocks runs full-resolution attention only once; a few semantic
    tokens per window (cluster centres: window max-pooling refined by attention) carry the
    other blocks, and a recovery attention writes their information back into the dense image
    tokens. Stages 1, 2 and 4 are standard Swin stages (a map no larger than the window is
    one unshifted window, as in the official code: the 7x7 last stage at 224x224); the stem is
    the official two stride-2 3x3 conv-BN-Hardswish layers. All four stages give dense maps, so
    the backbone serves detection and segmentation (``out_indices=(0, 1, 2, 3)``).

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
        arch = resolve_arch(arch, self.arch_zoo, ('embed_dims', 'depths', 'num_heads'),
                            same_length=('depths', 'num_heads'))
        depths, heads = list(arch['depths']), list(arch['num_heads'])
        num_stages = len(depths)
        for i in semantic_stages:
            if not 0 <= i < num_stages:
                raise ValueError(f'"semantic_stages" {i} out of range for {num_stages} stages')
            if depths[i] % 6:
                raise ValueError(f'"arch.depths[{i}]" must be a multiple of 6 for a semantic '
                                 f'stage, got {depths[i]}')
        self.out_indices = normalize_indices(out_indices, num_stages)
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
                stage = _SwinStage(c, depth, nh, window_size, downsample=not last,
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
        freeze_modules([self.patch_embed, *stage_modules(self, range(self.frozen_stages))])


class WeightedCellPooling(BaseModule):
    """Learned weighted pooling of a feature map to an ``s`` x ``s`` grid of tokens.

    The initial semantic-token pooling of the DeiT-based STViT as its authors described it in
    changsn/STViT-R issue #4 (the DeiT source itself is not released; "Making Vision
    Transformers Efficient from A Token Sparsification View", arXiv:2303.08685). The map is
    zero-padded evenly to a multiple of ``s`` (14x14 -> 16x16 by one token per side, as the
    authors' ``unfold(kernel_size=4, padding=1, stride=4)``) and cut into ``s * s`` cells; in
    each cell a mask branch (3x3 depthwise conv, LayerNorm over channels, GELU, 1x1 conv to one
    logit, applied cell by cell) scores the positions, padded positions get -100 added, and the
    cell's token is the softmax-weighted sum of its features.

    Args:
        embed_dims (int): Channels.
        num_semantic (int): Grid side ``s``. Defaults to 4.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self, embed_dims: int, num_semantic: int = 4,
                 init_cfg: Optional[Dict] = None) -> None:
        super().__init__(init_cfg)
        if num_semantic < 1:
            raise ValueError(f'"num_semantic" must be >= 1, got {num_semantic}')
        self.num_semantic = num_semantic
        self.dw_conv = nn.Conv2d(embed_dims, embed_dims, 3, padding=1, groups=embed_dims)
        self.norm = nn.LayerNorm(embed_dims)
        self.act = nn.GELU()
        self.score = nn.Conv2d(embed_dims, 1, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, H, W) -> tokens (B, s * s, C), row-major over the grid."""
        B, C, H, W = x.shape
        s = self.num_semantic
        kh, kw = -(-H // s), -(-W // s)  # cell size
        ph, pw = s * kh - H, s * kw - W
        pad = (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)
        x = F.pad(x, pad)
        # -100 on the logits of padded positions (the authors' constant)
        offset = F.pad(x.new_zeros(B, 1, H, W), pad, value=-100.)

        def cells(t: torch.Tensor) -> torch.Tensor:
            # (B, c, s * kh, s * kw) -> (B * s * s, c, kh, kw)
            c = t.size(1)
            t = t.reshape(B, c, s, kh, s, kw).permute(0, 2, 4, 1, 3, 5)
            return t.reshape(B * s * s, c, kh, kw)

        x, offset = cells(x), cells(offset)
        h = self.dw_conv(x)
        h = self.norm(h.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)  # LN over channels
        logits = self.score(self.act(h)) + offset  # (B * s * s, 1, kh, kw)
        weights = logits.flatten(2).softmax(dim=-1)
        return (x.flatten(2) * weights).sum(dim=-1).reshape(B, s * s, C)


@MODELS.register_module()
class STViTDeiT(PretrainedCheckMixin, FrozenStagesMixin, VisionTransformer):
    """STViT on DeiT: a plain ViT whose later blocks run on a few semantic tokens.

    From "Making Vision Transformers Efficient from A Token Sparsification View"
    (Chang et al., arXiv:2303.08685), the global-attention form of STViT ("only 16 semantic
    tokens on DeiT-(Tiny, Small, Base)"). The first ``semantic_layer`` blocks are standard DeiT
    blocks on all image tokens. Block ``semantic_layer`` pools the image-token map to a
    ``sqrt(num_semantic_tokens)``-square grid of cluster centres that attend to themselves and
    all image tokens (:class:`SemanticTokenGeneration` with ``window=None``, residual on the
    pooled tokens; pooled by the authors' learned weighted pooling, :class:`WeightedCellPooling`,
    or by max pooling with ``init_pool='max'``); block ``semantic_layer + 1`` adds learned
    global centres to them and lets class + semantic tokens attend to class, semantic and image
    tokens (:class:`SemanticBlock`).
    From there on the image tokens are dropped and the remaining DeiT blocks see only the class
    token and the semantic tokens, which is where the FLOPs go down. The depth, widths and the
    parameter count stay those of DeiT (+ the global centres, four layer scales and the
    pooling's mask branch).

    Layout choice: the official repository (changsn/STViT-R) ships only the Swin model; its
    DeiT source is not released (issue #1). The initial centres are pooled as the authors
    later described for DeiT (issue #4, :class:`WeightedCellPooling`; ``init_pool='max'`` keeps
    the adaptive max pooling of the released Swin code, our earlier choice). From the released
    code we take the generation attention over [centres, image tokens], the learned
    global centres added before the second attention (``use_global``, which the author notes
    matters for DeiT, issue #2) and the 1e-5 layer scale. The placement (blocks 4 and 5 of 12,
    i.e. ``semantic_layer=4``) and the residual on the pooled tokens are our choices: the
    placement gives 0.53 / 1.94 / 7.37 GFLOPs for DeiT-T / S / B at 224x224, 42% of DeiT's
    1.26 / 4.61 / 17.58G (attention matmuls included), the "nearly 60% FLOPs reduction" of the
    abstract, with DeiT's parameter count (+20 x ``embed_dims``, 13 x more for the weighted
    pooling).

    Args:
        arch (str | dict): ``'deit-tiny'``, ``'deit-small'``, ``'deit-base'`` (or any
            :class:`VisionTransformer` arch name) or a dict with ``embed_dims``,
            ``num_layers``, ``num_heads`` and ``feedforward_channels``.
            Defaults to ``'deit-small'``.
        num_semantic_tokens (int): Semantic tokens, a square number (pooled to a square
            grid). Defaults to 16.
        init_pool (str): Initial pooling of the semantic tokens: ``'weighted'`` (the authors'
            DeiT pooling, :class:`WeightedCellPooling`) or ``'max'`` (adaptive max pooling, as
            the Swin model's windows; not the authors' DeiT choice). Defaults to
            ``'weighted'``.
        semantic_layer (int): Index of the block that generates the semantic tokens; blocks
            ``semantic_layer`` and ``semantic_layer + 1`` form the generation module, so it
            must lie in ``[0, num_layers - 2]``. Defaults to 4.
        img_size (int | tuple): Input size the position embedding is built for; other sizes
            are served by interpolating it. Defaults to 224.
        patch_size (int): Patch size. Defaults to 16.
        in_channels (int): Input image channels. Defaults to 3.
        out_indices (Sequence[int] | int): Blocks whose outputs are returned. Defaults to -1.
        out_type (str): ``'cls_token'`` (DeiT's classifier input), ``'avg_featmap'`` (mean of
            the semantic tokens, normed), ``'featmap'`` (the image map before
            ``semantic_layer``, the semantic grid after it) or ``'raw'``.
            Defaults to ``'cls_token'``.
        with_cls_token (bool): Use a class token. Defaults to True.
        drop_path_rate (float): Stochastic depth rate (linear over the blocks).
            Defaults to 0.
        layer_scale_init_value (float): Initial layer scale of the two semantic blocks.
            Defaults to 1e-5.
        frozen_stages (int): Freeze the patch embedding, position embedding, class token and
            the first ``frozen_stages`` blocks (and the global centres once block
            ``semantic_layer + 1`` is frozen); -1 / 0 freeze nothing. Defaults to -1.
        init_cfg (dict | list[dict], optional): Initialization config. Defaults to truncated
            normal for Linear and constant for LayerNorm.
        **kwargs: Other :class:`mmpretrain.models.VisionTransformer` arguments
            (``qkv_bias``, ``drop_rate``, ``norm_cfg``, ``final_norm``, ``interpolate_mode``,
            ``patch_cfg``, ``layer_cfgs``, ``pre_norm``); ``drop_rate`` and ``layer_cfgs``
            act on the DeiT blocks only.
    """

    def __init__(self,
                 arch: Union[str, Dict] = 'deit-small',
                 num_semantic_tokens: int = 16,
                 init_pool: str = 'weighted',
                 semantic_layer: int = 4,
                 img_size: Union[int, Tuple[int, int]] = 224,
                 patch_size: int = 16,
                 in_channels: int = 3,
                 out_indices: Union[Sequence[int], int] = -1,
                 out_type: str = 'cls_token',
                 with_cls_token: bool = True,
                 drop_path_rate: float = 0.,
                 layer_scale_init_value: float = 1e-5,
                 frozen_stages: int = -1,
                 init_cfg: Optional[Union[Dict, List[Dict]]] = [
                     dict(type='TruncNormal', layer='Linear', std=.02, bias=0.),
                     dict(type='Constant', layer='LayerNorm', val=1., bias=0.)
                 ],
                 **kwargs) -> None:
        # validate before the parent builds anything: its checks are bare asserts
        settings = resolve_arch(arch, self.arch_zoo,
                                ('embed_dims', 'num_layers', 'num_heads', 'feedforward_channels'))
        num_layers = settings['num_layers']
        side = int(round(num_semantic_tokens**0.5))
        if num_semantic_tokens < 1 or side * side != num_semantic_tokens:
            raise ValueError('"num_semantic_tokens" must be a square number >= 1 (tokens are '
                             f'pooled to a square grid), got {num_semantic_tokens}')
        if not 0 <= semantic_layer <= num_layers - 2:
            raise ValueError(f'"semantic_layer" must be in [0, num_layers - 2 = '
                             f'{num_layers - 2}] (the generation module takes two blocks), '
                             f'got {semantic_layer}')
        if not -1 <= frozen_stages <= num_layers:
            raise ValueError(f'"frozen_stages" must be in [-1, {num_layers}], got '
                             f'{frozen_stages}')
        if init_pool not in ('weighted', 'max'):
            raise ValueError(f'"init_pool" must be \'weighted\' or \'max\', got {init_pool!r}')
        if out_type not in self.OUT_TYPES:
            raise ValueError(f'"out_type" must be one of {sorted(self.OUT_TYPES)}, got '
                             f'{out_type!r}')
        if out_type == 'cls_token' and not with_cls_token:
            raise ValueError('"out_type"="cls_token" needs "with_cls_token"=True')
        # frozen after the semantic blocks exist (the parent would freeze too early)
        super().__init__(arch=arch, img_size=img_size, patch_size=patch_size,
                         in_channels=in_channels, out_indices=out_indices, out_type=out_type,
                         with_cls_token=with_cls_token, drop_path_rate=drop_path_rate,
                         frozen_stages=-1, init_cfg=init_cfg, **kwargs)
        self.num_semantic_tokens = num_semantic_tokens
        self.semantic_layer = semantic_layer
        self.norm_eval = False  # no BatchNorm; read by FrozenStagesMixin.train()

        dims, heads = self.embed_dims, self.arch_settings['num_heads']
        ffn_ratio = self.arch_settings['feedforward_channels'] / dims
        dpr = [drop_path_rate * i / max(num_layers - 1, 1) for i in range(num_layers)]
        common = dict(ffn_ratio=ffn_ratio, qkv_bias=kwargs.get('qkv_bias', True),
                      layer_scale_init_value=layer_scale_init_value,
                      norm_cfg=kwargs.get('norm_cfg', dict(type='LN', eps=1e-6)))
        # The two generation blocks take the place of two DeiT blocks (same depth and
        # almost the same parameters: q + kv = qkv, plus the layer scales).
        self.layers[semantic_layer] = SemanticTokenGeneration(
            dims, heads, window=None, num_semantic=side, shortcut=True,
            weighted_pool=init_pool == 'weighted', drop_path=dpr[semantic_layer], **common)
        self.layers[semantic_layer + 1] = SemanticBlock(
            dims, heads, drop_path=dpr[semantic_layer + 1], **common)
        # learned global cluster centres, added to the pooled ones (official `use_global`)
        self.global_centers = nn.Parameter(torch.zeros(1, num_semantic_tokens, dims))
        self.frozen_stages = frozen_stages
        self._freeze_stages()

    def init_weights(self) -> None:
        super().init_weights()
        if not (isinstance(self.init_cfg, dict) and self.init_cfg['type'] == 'Pretrained'):
            trunc_normal_(self.global_centers, std=.02)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        B = x.shape[0]
        x, hw = self.patch_embed(x)
        if self.cls_token is not None:
            x = torch.cat((self.cls_token.expand(B, -1, -1), x), dim=1)
        x = x + resize_pos_embed(self.pos_embed, self.patch_resolution, hw,
                                 mode=self.interpolate_mode,
                                 num_extra_tokens=self.num_extra_tokens)
        x = self.pre_norm(self.drop_after_pos(x))
        n, L = self.num_extra_tokens, self.semantic_layer
        outs = []
        for i, layer in enumerate(self.layers):
            if i == L:
                extra, image = x[:, :n], x[:, n:]
                # (B, H*W, C) -> (B, H, W, C) -> semantic tokens (B, s*s, C) on an (s, s) grid
                semantic, hw = layer(image.reshape(B, *hw, -1))
                x = torch.cat((extra, semantic), dim=1)
            elif i == L + 1:
                # queries: class + semantic tokens (+ global centres); keys: + image tokens.
                # The image tokens are used for the last time here.
                queries = torch.cat((extra, semantic + self.global_centers), dim=1)
                x = layer(queries, torch.cat((x, image), dim=1))
            else:
                x = layer(x)
            if i == len(self.layers) - 1 and self.final_norm:
                x = self.ln1(x)
            if i in self.out_indices:
                outs.append(self._format_output(x, hw))
        return tuple(outs)

    def _freeze_stages(self) -> None:
        # -1 and 0 freeze nothing, as in mmpretrain's VisionTransformer
        if self.frozen_stages <= 0:
            return
        super()._freeze_stages()
        if self.frozen_stages > self.semantic_layer + 1:
            self.global_centers.requires_grad = False

    def get_layer_depth(self, param_name: str, prefix: str = '') -> Tuple[int, int]:
        """Layer-wise depth for layer-wise lr decay; the global centres sit with their block."""
        if param_name == prefix + 'global_centers':
            return self.semantic_layer + 2, self.num_layers + 2
        return super().get_layer_depth(param_name, prefix)
