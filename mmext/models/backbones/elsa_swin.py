"""ELSA-Swin: Swin Transformer whose window attention is replaced by ELSA in the first stages."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmcv.cnn import build_norm_layer
from mmcv.cnn.bricks import DropPath
from mmcv.cnn.bricks.transformer import FFN, PatchEmbed, PatchMerging
from mmengine.model import BaseModule, ModuleList
from mmpretrain.models.backbones.base_backbone import BaseBackbone
from mmpretrain.models.backbones.swin_transformer import SwinBlock
from mmpretrain.models.utils import ShiftWindowMSA

from mmext.registry import MODELS
from ..layers.backbone_utils import (FrozenStagesMixin, PretrainedCheckMixin, check_stage_args,
                                     freeze_modules, resolve_arch, stage_modules)
from ..layers.elsa import ELSA

__all__ = ['ELSASwin', 'ELSABlock']


class ELSABlock(BaseModule):
    """Transformer block with ELSA as token mixer: ``x + ELSA(LN(x))`` then ``x + FFN(LN(x))``.

    Part of "ELSA: Enhanced Local Self-Attention for Vision Transformer" (arXiv 2112.12786); the
    ELSA-Swin variants drop it into Swin in place of (shifted) window attention, so it takes and
    returns tokens ``(B, H*W, C)`` plus ``hw_shape`` like mmpretrain's ``SwinBlock``.

    Args:
        embed_dims (int): Number of channels.
        num_heads (int): Number of ELSA heads.
        kernel_size (int): ELSA neighbourhood size. Defaults to 7.
        group_width (int): Channels per group of ELSA's attention-generating conv. Defaults to 8.
        lam (float): Exponent of the multiplicative ghost head (0 disables it). Defaults to 0.
        gamma (float): Scale of the additive ghost head (0 disables it). Defaults to 1.
        qk_scale (float, optional): Scale of the Hadamard product. Defaults to 1.0.
        ffn_ratio (float): Hidden/embedding channel ratio of the FFN. Defaults to 4.
        drop_path (float): Stochastic depth rate. Defaults to 0.
        norm_cfg (dict): Norm layer config. Defaults to ``dict(type='LN')``.
        with_cp (bool): Use gradient checkpointing. Defaults to False.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 kernel_size: int = 7,
                 group_width: int = 8,
                 lam: float = 0.,
                 gamma: float = 1.,
                 qk_scale: Optional[float] = 1.,
                 ffn_ratio: float = 4.,
                 drop_path: float = 0.,
                 norm_cfg: dict = dict(type='LN'),
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.with_cp = with_cp
        self.norm1 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.attn = ELSA(
            embed_dims, num_heads, kernel_size=kernel_size, group_width=group_width,
            qkv_bias=True, qk_scale=qk_scale, lam=lam, gamma=gamma)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.ffn = FFN(
            embed_dims=embed_dims, feedforward_channels=int(embed_dims * ffn_ratio), num_fcs=2,
            ffn_drop=0., dropout_layer=dict(type='DropPath', drop_prob=drop_path),
            act_cfg=dict(type='GELU'))

    def forward(self, x: torch.Tensor, hw_shape: Tuple[int, int]) -> torch.Tensor:
        """``x``: (B, H*W, C) tokens of a map of size ``hw_shape``; returns the same shape."""

        def _inner_forward(x):
            B, L, C = x.shape
            H, W = hw_shape
            # (B, L, C) -> (B, H, W, C): ELSA is a conv-style local op, no window padding needed.
            attn = self.attn(self.norm1(x).view(B, H, W, C)).view(B, L, C)
            x = x + self.drop_path(attn)
            return self.ffn(self.norm2(x), identity=x)

        if self.with_cp and x.requires_grad:
            return cp.checkpoint(_inner_forward, x, use_reentrant=False)
        return _inner_forward(x)


class ELSASwinStage(BaseModule):
    """One ELSA-Swin stage: optional patch merging (stride 2) followed by ELSA or Swin blocks.

    Args:
        blocks (list[nn.Module]): The blocks, each called as ``block(x, hw_shape)``.
        downsample (nn.Module, optional): Patch merging applied first. Defaults to None.
    """

    def __init__(self, blocks: List[nn.Module], downsample: Optional[nn.Module] = None) -> None:
        super().__init__()
        self.downsample = downsample
        self.blocks = ModuleList(blocks)

    def forward(self, x: torch.Tensor,
                hw_shape: Tuple[int, int]) -> Tuple[torch.Tensor, Tuple[int, int]]:
        if self.downsample is not None:
            x, hw_shape = self.downsample(x, hw_shape)
        for block in self.blocks:
            attn = getattr(block, 'attn', None)
            if isinstance(attn, ShiftWindowMSA) and not attn.pad_small_map \
                    and min(hw_shape) < attn.window_size:
                # The original code shrinks the window to a map smaller than it, which
                # mmpretrain's SwinBlock cannot do; pad the map to one window instead so that
                # any input size works (only for maps smaller than the window).
                attn.pad_small_map = True
                try:
                    x = block(x, hw_shape)
                finally:
                    attn.pad_small_map = False
            else:
                x = block(x, hw_shape)
        return x, hw_shape


@MODELS.register_module()
class ELSASwin(PretrainedCheckMixin, FrozenStagesMixin, BaseBackbone):
    """ELSA-Swin backbone.

    From "ELSA: Enhanced Local Self-Attention for Vision Transformer" (arXiv 2112.12786). A Swin
    Transformer whose first three stages use :class:`ELSA` blocks (Hadamard attention + ghost head
    over a 7x7 neighbourhood, no window shift) while the last stage keeps shifted-window attention,
    as in the official ELSA-Swin-T/S/B. Outputs have strides 4/8/16/32. Inputs of any size work: the
    patch embedding and patch merging pad to even sizes, ELSA zero-pads its neighbourhood, and the
    last stage pads to window multiples (mmpretrain ``SwinBlock``).

    Args:
        arch (str | dict): ``'tiny'``, ``'small'``, ``'base'`` (or ``'t'``, ``'s'``, ``'b'``) or a
            dict with keys ``embed_dims``, ``depths``, ``num_heads`` and optionally
            ``group_width`` (default 8). Defaults to ``'tiny'``.
        in_channels (int): Number of input image channels. Defaults to 3.
        patch_size (int): Patch size of the stride-4 patch embedding. Defaults to 4.
        window_size (int): Window size of the Swin stages. Defaults to 7.
        elsa_stages (Sequence[int]): Stages that use ELSA blocks; others use Swin blocks.
            Defaults to ``(0, 1, 2)`` as in the paper.
        elsa_kernel (int): ELSA neighbourhood size. Defaults to 7.
        lam (float): ELSA multiplicative ghost-head exponent (0 in ELSA-Swin). Defaults to 0.
        gamma (float): ELSA additive ghost-head scale. Defaults to 1.
        qk_scale (float): Scale of ELSA's Hadamard product (1.0 in ELSA-Swin). Defaults to 1.
        mlp_ratio (float): FFN expansion ratio. Defaults to 4.
        drop_rate (float): Dropout after the patch embedding. Defaults to 0.
        drop_path_rate (float): Stochastic depth rate (linearly increased over blocks).
            Defaults to 0.1.
        out_indices (Sequence[int] | int): Output stages (0-3). Defaults to ``(3, )``.
        frozen_stages (int): Freeze the patch embedding and stages ``0..frozen_stages``; -1 freezes
            nothing. Defaults to -1.
        norm_eval (bool): Keep BatchNorm layers in eval mode while training. Defaults to False.
        pad_small_map (bool): Swin stages: pad maps smaller than the window instead of shrinking
            the window (common in detection/segmentation). Defaults to False.
        with_cp (bool): Use gradient checkpointing. Defaults to False.
        norm_cfg (dict): Norm config of the blocks and output norms. Defaults to
            ``dict(type='LN')``.
        init_cfg (dict | list[dict], optional): Initialisation config, e.g.
            ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')``. Defaults to
            truncated-normal Linear weights and unit LayerNorms.
    """
    arch_settings: Dict[str, dict] = {
        **dict.fromkeys(['t', 'tiny'], {
            'embed_dims': 96, 'depths': [2, 2, 6, 2], 'num_heads': [3, 6, 12, 24],
            'group_width': 4}),
        **dict.fromkeys(['s', 'small'], {
            'embed_dims': 96, 'depths': [2, 2, 18, 2], 'num_heads': [3, 6, 12, 24],
            'group_width': 8}),
        **dict.fromkeys(['b', 'base'], {
            'embed_dims': 128, 'depths': [2, 2, 18, 2], 'num_heads': [4, 8, 16, 32],
            'group_width': 8}),
    }  # yapf: disable

    def __init__(self,
                 arch: Union[str, dict] = 'tiny',
                 in_channels: int = 3,
                 patch_size: int = 4,
                 window_size: int = 7,
                 elsa_stages: Sequence[int] = (0, 1, 2),
                 elsa_kernel: int = 7,
                 lam: float = 0.,
                 gamma: float = 1.,
                 qk_scale: float = 1.,
                 mlp_ratio: float = 4.,
                 drop_rate: float = 0.,
                 drop_path_rate: float = 0.1,
                 out_indices: Union[Sequence[int], int] = (3, ),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 pad_small_map: bool = False,
                 with_cp: bool = False,
                 norm_cfg: dict = dict(type='LN'),
                 init_cfg: Optional[Union[dict, List[dict]]] = [
                     dict(type='TruncNormal', layer='Linear', std=.02, bias=0.),
                     dict(type='Constant', layer='LayerNorm', val=1., bias=0.)
                 ]) -> None:
        super().__init__(init_cfg=init_cfg)
        arch = resolve_arch(arch, self.arch_settings, ('embed_dims', 'depths', 'num_heads'),
                            same_length=('depths', 'num_heads'))
        self.arch = arch
        self.embed_dims = arch['embed_dims']
        self.depths = list(arch['depths'])
        self.num_heads = list(arch['num_heads'])
        group_width = arch.get('group_width', 8)
        self.num_stages = len(self.depths)

        out_indices = check_stage_args(out_indices, frozen_stages, self.num_stages)
        for i in elsa_stages:
            if not 0 <= i < self.num_stages:
                raise ValueError(f'"elsa_stages" must be in [0, {self.num_stages}), got {i}')
        self.out_indices = out_indices
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.elsa_stages = tuple(elsa_stages)

        # 'corner' adaptive padding: any H, W works (padded right/bottom to the patch size).
        self.patch_embed = PatchEmbed(
            in_channels=in_channels, embed_dims=self.embed_dims, conv_type='Conv2d',
            kernel_size=patch_size, stride=patch_size, norm_cfg=dict(type='LN'))
        self.drop_after_pos = nn.Dropout(p=drop_rate)

        dpr = torch.linspace(0, drop_path_rate, sum(self.depths)).tolist()
        self.stages = ModuleList()
        self.num_features = []
        dims = self.embed_dims
        for i, (depth, heads) in enumerate(zip(self.depths, self.num_heads)):
            downsample = None
            if i > 0:
                downsample = PatchMerging(
                    in_channels=dims, out_channels=2 * dims, norm_cfg=dict(type='LN'))
                dims *= 2
            rates, dpr = dpr[:depth], dpr[depth:]
            if i in self.elsa_stages:
                blocks = [
                    ELSABlock(dims, heads, kernel_size=elsa_kernel, group_width=group_width,
                              lam=lam, gamma=gamma, qk_scale=qk_scale, ffn_ratio=mlp_ratio,
                              drop_path=rates[j], norm_cfg=norm_cfg, with_cp=with_cp)
                    for j in range(depth)
                ]
            else:
                blocks = [
                    SwinBlock(dims, heads, window_size=window_size, shift=j % 2 == 1,
                              ffn_ratio=mlp_ratio, drop_path=rates[j],
                              pad_small_map=pad_small_map, norm_cfg=norm_cfg, with_cp=with_cp)
                    for j in range(depth)
                ]
            self.stages.append(ELSASwinStage(blocks, downsample))
            self.num_features.append(dims)

        for i in self.out_indices:
            self.add_module(f'norm{i}', build_norm_layer(norm_cfg, self.num_features[i])[1])

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Return the (B, C_i, H_i, W_i) maps of the stages in ``out_indices``."""
        x, hw_shape = self.patch_embed(x)  # (B, H/4 * W/4, C)
        x = self.drop_after_pos(x)
        outs = []
        for i, stage in enumerate(self.stages):
            x, hw_shape = stage(x, hw_shape)
            if i in self.out_indices:
                out = getattr(self, f'norm{i}')(x)
                # (B, H*W, C) -> (B, C, H, W)
                outs.append(out.view(-1, *hw_shape, self.num_features[i]).permute(0, 3, 1, 2)
                            .contiguous())
        return tuple(outs)

    def _freeze_stages(self) -> None:
        if self.frozen_stages >= 0:
            freeze_modules([self.patch_embed,
                            *stage_modules(self, range(self.frozen_stages + 1))])
