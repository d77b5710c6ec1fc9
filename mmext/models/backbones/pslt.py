"""PSLT: light-weight hybrid backbone with ladder self-attention and progressive shift."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn import ConvModule, build_norm_layer
from mmcv.cnn.bricks import DropPath
from mmcv.cnn.bricks.transformer import PatchMerging
from mmengine.model import BaseModule, ModuleList, Sequential
from mmengine.model.weight_init import trunc_normal_
from mmpretrain.models.backbones.base_backbone import BaseBackbone
from mmpretrain.models.utils import SELayer

from mmext.registry import MODELS
from ..layers.backbone_utils import (FrozenStagesMixin, PretrainedCheckMixin, check_stage_args,
                                     freeze_modules, resolve_arch, stage_modules)

__all__ = ['PSLT', 'LadderSelfAttentionBlock', 'LadderWindowAttention']

# PSLT puts the activation before the BatchNorm in all its conv units.
_CONV_ORDER = ('conv', 'act', 'norm')
_GELU = dict(type='GELU')


class MV2BlockSE(BaseModule):
    """MobileNetV2 inverted residual with squeeze-and-excitation, PSLT's conv stages unit.

    Pointwise expansion, 3x3 depthwise conv (stride 1 or 2), pointwise projection, then a
    channel SE (reduction 2); identity shortcut when the shape is kept. Part of "PSLT: A
    Light-weight Vision Transformer with Ladder Self-Attention and Progressive Shift"
    (arXiv 2304.03481).

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        stride (int): Stride of the depthwise conv (1 or 2). Defaults to 1.
        expansion (int): Hidden/input channel ratio. Defaults to 4.
        norm_cfg (dict): Norm config. Defaults to ``dict(type='BN')``.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, expansion: int = 4,
                 norm_cfg: dict = dict(type='BN')) -> None:
        super().__init__()
        hidden = in_channels * expansion
        self.use_res = stride == 1 and in_channels == out_channels
        common = dict(norm_cfg=norm_cfg, bias=False, order=_CONV_ORDER)
        self.conv = Sequential(
            ConvModule(in_channels, hidden, 1, act_cfg=_GELU, **common),
            ConvModule(hidden, hidden, 3, stride=stride, padding=1, groups=hidden, act_cfg=_GELU,
                       **common),
            ConvModule(hidden, out_channels, 1, act_cfg=None, **common))
        self.se = SELayer(out_channels, ratio=2, divisor=1,
                          act_cfg=(dict(type='ReLU'), dict(type='Sigmoid')))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.se(self.conv(x))
        return x + out if self.use_res else out


class LightMlp(BaseModule):
    """PSLT's light FFN on tokens: 1x1 conv, 3x3 depthwise conv, 1x1 conv (act before BN).

    Laid out as the official ``Mlp_Light``: all three convs keep their bias. The first two
    sit in front of a GELU, so unlike a conv-BN pair they cannot be folded into the norm.

    Args:
        embed_dims (int): Channels.
        hidden_dims (int): Hidden channels.
        norm_cfg (dict): Norm config. Defaults to ``dict(type='BN')``.
    """

    def __init__(self, embed_dims: int, hidden_dims: int,
                 norm_cfg: dict = dict(type='BN')) -> None:
        super().__init__()
        # plain layers: a ConvModule with a norm would drop (or warn about) the conv biases
        self.conv = nn.Sequential(
            nn.Conv2d(embed_dims, hidden_dims, 1), nn.GELU(),
            build_norm_layer(norm_cfg, hidden_dims)[1],
            nn.Conv2d(hidden_dims, hidden_dims, 3, padding=1, groups=hidden_dims), nn.GELU(),
            build_norm_layer(norm_cfg, hidden_dims)[1],
            nn.Conv2d(hidden_dims, embed_dims, 1),
            build_norm_layer(norm_cfg, embed_dims)[1])

    def forward(self, x: torch.Tensor, hw_shape: Tuple[int, int]) -> torch.Tensor:
        B, L, C = x.shape
        # (B, L, C) -> (B, C, H, W) -> (B, L, C)
        x = self.conv(x.transpose(1, 2).reshape(B, C, *hw_shape))
        return x.flatten(2).transpose(1, 2)


class LadderWindowAttention(BaseModule):
    """Window multi-head self-attention with relative position bias and an optional outside value.

    Used by the ladder self-attention of PSLT (arXiv 2304.03481): the first branch computes
    q, k, v from its own input; later branches compute only q, k and take the value from the
    output of the previous branch (``value``), adding their normalised input back as a shortcut.

    Args:
        embed_dims (int): Channels.
        num_heads (int): Number of heads.
        window_size (int): Window size.
        external_value (bool): Take the value from the previous branch. Defaults to False.
        qkv_bias (bool): Bias in the q/k/v projection. Defaults to True.
        attn_drop (float): Attention dropout. Defaults to 0.
        proj_drop (float): Output dropout. Defaults to 0.
    """

    def __init__(self, embed_dims: int, num_heads: int, window_size: int,
                 external_value: bool = False, qkv_bias: bool = True, attn_drop: float = 0.,
                 proj_drop: float = 0.) -> None:
        super().__init__()
        if embed_dims % num_heads != 0:
            raise ValueError(f'"num_heads" ({num_heads}) must divide the branch channels '
                             f'({embed_dims})')
        self.embed_dims = embed_dims
        self.num_heads = num_heads
        self.window_size = window_size
        self.scale = (embed_dims // num_heads)**-0.5
        self.external_value = external_value
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * window_size - 1)**2, num_heads))
        self.register_buffer('relative_position_index', self._relative_index(window_size),
                             persistent=False)
        n_proj = 2 if external_value else 3
        self.qkv = nn.Linear(embed_dims, embed_dims * n_proj, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop)

    def init_weights(self) -> None:
        super().init_weights()
        trunc_normal_(self.relative_position_bias_table, std=.02)

    def _relative_index(self, ws: int, device: Optional[torch.device] = None) -> torch.Tensor:
        """(ws*ws, ws*ws) indices into the bias table of a ``ws`` window (``ws`` may be smaller
        than the built window: a map smaller than the window uses the central part of the table).
        """
        full = self.window_size
        r = torch.arange(ws, device=device)
        coords = torch.stack(torch.meshgrid(r, r, indexing='ij')).flatten(1)  # (2, N)
        rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + full - 1
        return rel[..., 0] * (2 * full - 1) + rel[..., 1]

    def forward(self, x: torch.Tensor, value: Optional[torch.Tensor] = None,
                mask: Optional[torch.Tensor] = None,
                window_size: Optional[int] = None) -> torch.Tensor:
        """``x``/``value``: (B*nW, N, C) windows of ``window_size`` (default: the built one);
        ``mask``: (nW, N, N) of 0 / -100 or None."""
        B_, N, C = x.shape
        h = self.num_heads
        # (B_, N, n*C) -> (n, B_, heads, N, C // heads)
        qkv = self.qkv(x).reshape(B_, N, -1, h, C // h).permute(2, 0, 3, 1, 4)
        q, k = qkv[0], qkv[1]
        if self.external_value:
            if value is None:
                raise ValueError('this branch needs the previous branch output as "value"')
            v = value.reshape(B_, N, h, C // h).transpose(1, 2)
        else:
            v = qkv[2]
        attn = (q * self.scale) @ k.transpose(-2, -1)
        ws = window_size or self.window_size
        index = self.relative_position_index if ws == self.window_size \
            else self._relative_index(ws, x.device)
        bias = self.relative_position_bias_table[index.view(-1)]
        attn = attn + bias.view(N, N, h).permute(2, 0, 1).unsqueeze(0)
        if mask is not None:
            nW = mask.shape[0]
            attn = attn.view(B_ // nW, nW, h, N, N) + mask[None, :, None].to(attn.dtype)
            attn = attn.view(B_, h, N, N)
        attn = self.attn_drop(attn.softmax(dim=-1))
        out = self.proj_drop(self.proj((attn @ v).transpose(1, 2).reshape(B_, N, C)))
        # as in the official code, a value-taking branch keeps its own (normalised) input
        return out + x if self.external_value else out


def _window_partition(x: torch.Tensor, ws: int) -> torch.Tensor:
    """(B, H, W, C) -> (B*nW, ws*ws, C) with H, W multiples of ``ws``."""
    B, H, W, C = x.shape
    x = x.view(B, H // ws, ws, W // ws, ws, C).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, ws * ws, C)


def _window_reverse(windows: torch.Tensor, ws: int, H: int, W: int) -> torch.Tensor:
    """(B*nW, ws*ws, C) -> (B, H, W, C)."""
    C = windows.shape[-1]
    x = windows.view(-1, H // ws, W // ws, ws, ws, C).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, H, W, C)


def _shift_mask(Hp: int, Wp: int, ws: int, shift: int, device: torch.device) -> torch.Tensor:
    """Attention mask (nW, ws*ws, ws*ws) for a map rolled by ``shift`` (either sign).

    Tokens that wrapped around the border must not attend to tokens that did not.
    """

    def wrapped(n):
        # rolled position i holds original index (i - shift) % n; it wrapped if that moved it
        # across the border.
        idx = torch.arange(n, device=device)
        return ((idx - shift) % n != idx - shift).long()

    label = wrapped(Hp)[:, None] * 2 + wrapped(Wp)[None, :]  # (Hp, Wp)
    win = _window_partition(label[None, :, :, None].float(), ws).squeeze(-1)  # (nW, N)
    mask = win[:, None, :] - win[:, :, None]
    return mask.masked_fill(mask != 0, -100.).masked_fill(mask == 0, 0.)


class LadderBranch(BaseModule):
    """One branch of a ladder self-attention block: (shifted) window attention + light FFN.

    Args:
        embed_dims (int): Branch channels.
        num_heads (int): Number of heads.
        window_size (int): Window size.
        shift_sign (int): 0 for no shift, -1 / +1 to roll the map by -/+ ``window_size // 2``.
        external_value (bool): Use the previous branch output as the value. Defaults to False.
        mlp_ratio (float): FFN hidden ratio before PSLT's reduction by 4. Defaults to 4.
        drop_path (float): Stochastic depth rate. Defaults to 0.
        norm_cfg (dict): Token norm config. Defaults to ``dict(type='LN')``.
        conv_norm_cfg (dict): Conv norm config of the FFN. Defaults to ``dict(type='BN')``.
    """

    def __init__(self, embed_dims: int, num_heads: int, window_size: int, shift_sign: int,
                 external_value: bool = False, mlp_ratio: float = 4., drop_path: float = 0.,
                 norm_cfg: dict = dict(type='LN'),
                 conv_norm_cfg: dict = dict(type='BN')) -> None:
        super().__init__()
        self.window_size = window_size
        self.shift_sign = shift_sign
        self.norm1 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.attn = LadderWindowAttention(embed_dims, num_heads, window_size, external_value)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = build_norm_layer(norm_cfg, embed_dims)[1]
        # PSLT's light FFN divides the usual hidden width by 4.
        self.mlp = LightMlp(embed_dims, int(embed_dims * mlp_ratio) // 4, conv_norm_cfg)

    def forward(self, x: torch.Tensor, hw_shape: Tuple[int, int],
                value: Optional[torch.Tensor] = None) -> torch.Tensor:
        B, L, C = x.shape
        H, W = hw_shape
        ws = self.window_size
        shift = self.shift_sign * (ws // 2)
        if min(H, W) <= ws:
            # As in the classification code: one window covers the small side, no shift.
            ws, shift = min(H, W), 0
        y = self.norm1(x).view(B, H, W, C)
        maps = [y] if value is None else [y, value.view(B, H, W, C)]
        # Zero-pad bottom/right to window multiples (padded tokens act as zero keys/values, like
        # mmpretrain's Swin), then roll; the mask keeps wrapped tokens apart.
        pad_b, pad_r = (ws - H % ws) % ws, (ws - W % ws) % ws
        maps = [F.pad(m, (0, 0, 0, pad_r, 0, pad_b)) for m in maps]
        Hp, Wp = H + pad_b, W + pad_r
        mask = None
        if shift != 0:
            maps = [torch.roll(m, shifts=(shift, shift), dims=(1, 2)) for m in maps]
            mask = _shift_mask(Hp, Wp, ws, shift, x.device)
        wins = [_window_partition(m, ws) for m in maps]
        out = self.attn(wins[0], wins[1] if value is not None else None, mask, ws)
        out = _window_reverse(out, ws, Hp, Wp)
        if shift != 0:
            out = torch.roll(out, shifts=(-shift, -shift), dims=(1, 2))
        out = out[:, :H, :W].reshape(B, L, C)
        x = x + self.drop_path(out)
        return x + self.drop_path(self.mlp(self.norm2(x), hw_shape))


@MODELS.register_module()
class LadderSelfAttentionBlock(BaseModule):
    """Ladder self-attention block with progressive shift and pixel-adaptive fusion.

    From "PSLT: A Light-weight Vision Transformer with Ladder Self-Attention and Progressive
    Shift" (arXiv 2304.03481). The channels are split into three branches of window attention;
    the branches use windows shifted by 0, ``-ws // 2`` and ``+ws // 2`` and each later branch
    takes its value from the previous branch's output (progressive shift), so the receptive field
    grows along the ladder. The concatenated branch outputs are fused by a per-pixel channel gate
    (pixel-adaptive fusion) followed by a pointwise projection with a shortcut.

    Args:
        embed_dims (int): Channels (divisible by the number of branches).
        num_heads (int): Heads per branch.
        window_size (int): Window size of every branch. Defaults to 7.
        num_branches (int): Number of ladder branches (1-3). Defaults to 3.
        mlp_ratio (float): FFN ratio (PSLT's light FFN divides it by 4). Defaults to 4.
        drop_path (float): Stochastic depth rate. Defaults to 0.
        norm_cfg (dict): Token norm config. Defaults to ``dict(type='LN')``.
        conv_norm_cfg (dict): Conv norm config. Defaults to ``dict(type='BN')``.
        with_cp (bool): Gradient checkpointing. Defaults to False.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self, embed_dims: int, num_heads: int, window_size: int = 7,
                 num_branches: int = 3, mlp_ratio: float = 4., drop_path: float = 0.,
                 norm_cfg: dict = dict(type='LN'), conv_norm_cfg: dict = dict(type='BN'),
                 with_cp: bool = False, init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if not 1 <= num_branches <= 3:
            raise ValueError(f'"num_branches" must be 1, 2 or 3, got {num_branches}')
        if embed_dims % num_branches != 0:
            raise ValueError(f'"embed_dims" ({embed_dims}) must be divisible by "num_branches" '
                             f'({num_branches})')
        self.with_cp = with_cp
        self.branch_dims = embed_dims // num_branches
        shift_signs = (0, -1, 1)  # progressive shift: none, towards top-left, towards bottom-right
        self.branches = ModuleList([
            LadderBranch(self.branch_dims, num_heads, window_size, shift_signs[i],
                         external_value=i > 0, mlp_ratio=mlp_ratio, drop_path=drop_path,
                         norm_cfg=norm_cfg, conv_norm_cfg=conv_norm_cfg)
            for i in range(num_branches)
        ])
        # pixel-adaptive fusion: per-token channel gate, then pointwise projection
        self.fuse_gate = nn.Sequential(
            nn.Linear(embed_dims, embed_dims // 2), nn.ReLU(inplace=True),
            nn.Linear(embed_dims // 2, embed_dims), nn.Sigmoid())
        self.fuse_proj = nn.Linear(embed_dims, embed_dims)

    def forward(self, x: torch.Tensor, hw_shape: Tuple[int, int]) -> torch.Tensor:
        """``x``: (B, H*W, C) tokens; returns the same shape."""

        def _inner_forward(x):
            outs = []
            for i, branch in enumerate(self.branches):
                xi = x[..., i * self.branch_dims:(i + 1) * self.branch_dims]
                outs.append(branch(xi, hw_shape, outs[-1] if i > 0 else None))
            y = torch.cat(outs, dim=-1)
            y = y * self.fuse_gate(y)
            return y + self.fuse_proj(y)

        if self.with_cp and x.requires_grad:
            return cp.checkpoint(_inner_forward, x, use_reentrant=False)
        return _inner_forward(x)


class PSLTStage(BaseModule):
    """A PSLT stage: conv blocks (stages 0-2 start with a stride-2 MV2 block) or a patch merging
    followed by ladder blocks.

    Args:
        conv_blocks (list[nn.Module]): MV2 blocks applied on (B, C, H, W) maps.
        downsample (nn.Module, optional): Patch merging on tokens. Defaults to None.
        blocks (list[nn.Module]): Ladder blocks on tokens. Defaults to empty.
    """

    def __init__(self, conv_blocks: List[nn.Module], downsample: Optional[nn.Module] = None,
                 blocks: Sequence[nn.Module] = ()) -> None:
        super().__init__()
        self.conv_blocks = Sequential(*conv_blocks)
        self.downsample = downsample
        self.blocks = ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, C', H', W')."""
        x = self.conv_blocks(x)
        if self.downsample is None and len(self.blocks) == 0:
            return x
        B, C, H, W = x.shape
        x, hw_shape = x.flatten(2).transpose(1, 2), (H, W)  # (B, H*W, C)
        if self.downsample is not None:
            x, hw_shape = self.downsample(x, hw_shape)
        for block in self.blocks:
            x = block(x, hw_shape)
        return x.transpose(1, 2).reshape(B, -1, *hw_shape)


@MODELS.register_module()
class PSLT(PretrainedCheckMixin, FrozenStagesMixin, BaseBackbone):
    """PSLT backbone.

    From "PSLT: A Light-weight Vision Transformer with Ladder Self-Attention and Progressive
    Shift" (arXiv 2304.03481). A three-conv stem (stride 2) and two stages of MobileNetV2-SE blocks
    (strides 4, 8) are followed by two stages of ladder self-attention blocks (strides 16, 32),
    which split the channels into three window-attention branches with progressive shift and fuse
    them pixel-adaptively. Any input size works: ladder branches pad to window multiples and patch
    merging pads odd sizes.

    Args:
        arch (str | dict): ``'tiny'`` (24 stem channels), ``'base'`` (36, the 9.2M PSLT) or
            ``'large'`` (48), or a dict with keys ``embed_dims``, ``conv_depths`` (2 ints),
            ``depths`` (2 ints) and ``num_heads`` (2 ints). Defaults to ``'base'``.
        in_channels (int): Input image channels. Defaults to 3.
        stem_stride (int): Stride of the first stem conv: 2 in the paper (output strides
            4/8/16/32); 1 halves every stride, for tiny images such as 28x28. Defaults to 2.
        window_size (int): Window size of the ladder branches. Defaults to 7.
        mlp_ratio (float): FFN ratio of the ladder blocks. Defaults to 4.
        drop_path_rate (float): Stochastic depth rate over the ladder blocks. Defaults to 0.2.
        out_indices (Sequence[int] | int): Output stages (0-3; strides 4/8/16/32).
            Defaults to ``(3, )``.
        frozen_stages (int): Freeze the stem and stages ``0..frozen_stages``; -1 freezes nothing.
            Defaults to -1.
        norm_eval (bool): Keep BatchNorm layers in eval mode while training. Defaults to False.
        norm_cfg (dict): Token norm config (ladder blocks, patch merging, output norms of stages
            2-3). Defaults to ``dict(type='LN')``.
        conv_norm_cfg (dict): Norm config of the conv units. Defaults to ``dict(type='BN')``.
        with_cp (bool): Gradient checkpointing in ladder blocks. Defaults to False.
        init_cfg (dict | list[dict], optional): Initialisation config, e.g.
            ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')``. Defaults to
            truncated-normal Linear weights and unit LayerNorms.
    """
    arch_settings: Dict[str, dict] = {
        'tiny': dict(embed_dims=24, conv_depths=[3, 3], depths=[10, 3], num_heads=[4, 8]),
        'base': dict(embed_dims=36, conv_depths=[3, 3], depths=[10, 3], num_heads=[4, 8]),
        'large': dict(embed_dims=48, conv_depths=[3, 3], depths=[10, 3], num_heads=[4, 8]),
    }
    num_stages = 4

    def __init__(self,
                 arch: Union[str, dict] = 'base',
                 in_channels: int = 3,
                 stem_stride: int = 2,
                 window_size: int = 7,
                 mlp_ratio: float = 4.,
                 drop_path_rate: float = 0.2,
                 out_indices: Union[Sequence[int], int] = (3, ),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 norm_cfg: dict = dict(type='LN'),
                 conv_norm_cfg: dict = dict(type='BN'),
                 with_cp: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = [
                     dict(type='TruncNormal', layer='Linear', std=.02, bias=0.),
                     dict(type='Constant', layer='LayerNorm', val=1., bias=0.)
                 ]) -> None:
        super().__init__(init_cfg=init_cfg)
        arch = resolve_arch(arch, self.arch_settings,
                            ('embed_dims', 'conv_depths', 'depths', 'num_heads'))
        for key in ('conv_depths', 'depths', 'num_heads'):
            if len(arch[key]) != 2:
                raise ValueError(f'"arch.{key}" must have 2 entries, got {arch[key]}')
        if min(arch['conv_depths']) < 1:
            raise ValueError(f'"arch.conv_depths" must be >= 1, got {arch["conv_depths"]}')
        E = arch['embed_dims']
        if (8 * E) % 3 != 0 or E % 2 != 0:
            raise ValueError(f'"arch.embed_dims" must be even and 8 * embed_dims divisible by the '
                             f'3 ladder branches, got {E}')
        self.arch = arch
        out_indices = check_stage_args(out_indices, frozen_stages, self.num_stages)
        if stem_stride not in (1, 2):
            raise ValueError(f'"stem_stride" must be 1 or 2, got {stem_stride}')
        if window_size < 1:
            raise ValueError(f'"window_size" must be >= 1, got {window_size}')
        self.out_indices = out_indices
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval

        common = dict(norm_cfg=conv_norm_cfg, bias=False, order=_CONV_ORDER, act_cfg=_GELU)
        self.stem = Sequential(
            ConvModule(in_channels, E // 2, 3, stride=stem_stride, padding=1, **common),
            ConvModule(E // 2, E, 3, padding=1, **common),
            ConvModule(E, E, 3, padding=1, **common))

        depths, heads = arch['depths'], arch['num_heads']
        dpr = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        self.num_features = [2 * E, 4 * E, 8 * E, 16 * E]
        self.stages = ModuleList()
        for i, d in enumerate(arch['conv_depths']):
            cin, cout = self.num_features[i] // 2, self.num_features[i]
            blocks = [MV2BlockSE(cin, cout, stride=2, norm_cfg=conv_norm_cfg)]
            blocks += [MV2BlockSE(cout, cout, norm_cfg=conv_norm_cfg) for _ in range(d - 1)]
            self.stages.append(PSLTStage(blocks))
        for i in range(2):
            dims = self.num_features[2 + i]
            rates, dpr = dpr[:depths[i]], dpr[depths[i]:]
            ladder = [
                LadderSelfAttentionBlock(dims, heads[i], window_size, mlp_ratio=mlp_ratio,
                                         drop_path=r, norm_cfg=norm_cfg,
                                         conv_norm_cfg=conv_norm_cfg, with_cp=with_cp)
                for r in rates
            ]
            if i == 0:
                # stride 8 -> 16 with the last MV2 block, as in the paper
                stage = PSLTStage([MV2BlockSE(dims // 2, dims, 2, norm_cfg=conv_norm_cfg)],
                                  blocks=ladder)
            else:
                stage = PSLTStage([], PatchMerging(dims // 2, dims, norm_cfg=dict(type='LN')),
                                  ladder)
            self.stages.append(stage)

        for i in self.out_indices:
            # conv stages end with BN already; the token stages get a LayerNorm like Swin.
            norm = build_norm_layer(norm_cfg, self.num_features[i])[1] if i >= 2 \
                else nn.Identity()
            self.add_module(f'norm{i}', norm)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Return the (B, C_i, H_i, W_i) maps of the stages in ``out_indices``."""
        x = self.stem(x)
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self.out_indices:
                norm = getattr(self, f'norm{i}')
                if isinstance(norm, nn.Identity):
                    outs.append(x)
                else:  # LayerNorm over channels: (B, C, H, W) -> (B, H, W, C) -> back
                    outs.append(norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2).contiguous())
        return tuple(outs)

    def _freeze_stages(self) -> None:
        if self.frozen_stages >= 0:
            freeze_modules([self.stem, *stage_modules(self, range(self.frozen_stages + 1))])
