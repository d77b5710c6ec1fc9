# Copyright (c) mmext contributors. All rights reserved.
"""DilateFormer backbone."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmcv.cnn.bricks import DropPath
from mmcv.cnn.bricks.transformer import FFN
from mmengine.model import BaseModule, ModuleList, Sequential
from mmpretrain.models.backbones.base_backbone import BaseBackbone
from mmpretrain.models.utils import MultiheadAttention
from torch import Tensor

from mmext.registry import MODELS
from ..layers.backbone_utils import (FrozenStagesMixin, PretrainedCheckMixin, freeze_modules,
                                     normalize_indices, resolve_arch, stage_modules)
from ..layers.msda import MultiScaleDilatedAttention

__all__ = ['DilateFormer']


class DilateFormerBlock(BaseModule):
    """One DilateFormer block: conditional position encoding, attention, MLP.

    The attention is :class:`MultiScaleDilatedAttention` (``attn_type='msda'``) or plain global
    multi-head self-attention (``attn_type='global'``). A depth-wise 3x3 convolution added to the
    input encodes positions, so the block works at any resolution.

    Args:
        embed_dims (int): Number of channels.
        num_heads (int): Number of attention heads.
        attn_type (str): ``'msda'`` or ``'global'``.
        msda_cfg (dict): Extra arguments of :class:`MultiScaleDilatedAttention` (kernel size,
            dilations, padding mode). Defaults to an empty dict.
        mlp_ratio (float): MLP hidden width / ``embed_dims``. Defaults to 4.
        qkv_bias (bool): Bias in the QKV projection. Defaults to True.
        drop_rate (float): Dropout after the projections. Defaults to 0.
        attn_drop_rate (float): Dropout on attention weights. Defaults to 0.
        drop_path_rate (float): Stochastic depth rate of this block. Defaults to 0.
        norm_cfg (dict): Norm of the residual branches. Defaults to ``dict(type='LN', eps=1e-6)``.
        act_cfg (dict): MLP activation. Defaults to ``dict(type='GELU')``.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 attn_type: str,
                 msda_cfg: Optional[dict] = None,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 norm_cfg: dict = dict(type='LN', eps=1e-6),
                 act_cfg: dict = dict(type='GELU'),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.attn_type = attn_type
        self.cpe = nn.Conv2d(embed_dims, embed_dims, 3, padding=1, groups=embed_dims)
        self.norm1 = build_norm_layer(norm_cfg, embed_dims)[1]
        if attn_type == 'msda':
            self.attn = MultiScaleDilatedAttention(
                embed_dims,
                num_heads,
                qkv_bias=qkv_bias,
                attn_drop=attn_drop_rate,
                proj_drop=drop_rate,
                **(msda_cfg or {}))
        elif attn_type == 'global':
            self.attn = MultiheadAttention(
                embed_dims,
                num_heads,
                attn_drop=attn_drop_rate,
                proj_drop=drop_rate,
                qkv_bias=qkv_bias)
        else:
            raise ValueError(f'"attn_type" must be "msda" or "global", got {attn_type!r}')
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0 else nn.Identity()
        self.norm2 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.ffn = FFN(
            embed_dims=embed_dims,
            feedforward_channels=int(embed_dims * mlp_ratio),
            ffn_drop=drop_rate,
            dropout_layer=dict(type='DropPath', drop_prob=drop_path_rate),
            act_cfg=act_cfg)

    def forward(self, x: Tensor) -> Tensor:
        """Forward ``(B, C, H, W) -> (B, C, H, W)``."""
        x = x + self.cpe(x)
        B, C, H, W = x.shape
        x = x.permute(0, 2, 3, 1)  # (B, H, W, C): LayerNorm and linears act on the last dim
        y = self.norm1(x)
        if self.attn_type == 'msda':
            y = self.attn(y)
        else:
            y = self.attn(y.reshape(B, H * W, C)).reshape(B, H, W, C)
        x = x + self.drop_path(y)
        x = self.ffn(self.norm2(x), identity=x)
        return x.permute(0, 3, 1, 2)


@MODELS.register_module()
class DilateFormer(PretrainedCheckMixin, FrozenStagesMixin, BaseBackbone):
    """DilateFormer backbone.

    From "DilateFormer: Multi-Scale Dilated Transformer for Visual Recognition"
    (arXiv:2302.01791). A four-stage pyramid (strides 4/8/16/32) on an overlapping convolutional
    stem: the shallow stages use Multi-Scale Dilated Attention (local, sparse sliding windows
    whose dilation differs per head group), the deep stages global multi-head self-attention.
    Every block adds a depth-wise convolutional position encoding, so any input size works;
    dilated windows at the border see zero padding (see :class:`MultiScaleDilatedAttention`
    for the ``'zeros'`` / ``'mask'`` semantics).

    Args:
        arch (str | dict): ``'tiny'``, ``'small'``, ``'base'`` or a dict with keys
            ``embed_dims`` (int, stage-1 width, doubled every stage), ``depths`` (4 ints) and
            ``num_heads`` (4 ints). Defaults to ``'tiny'``.
        in_channels (int): Input image channels. Defaults to 3.
        stem_channels (int): Width of the first stem convolution (then x2, x4).
            Defaults to 16.
        msda_stages (Sequence[int]): Stages that use MSDA; the others use global attention.
            Defaults to (0, 1).
        kernel_size (int): MSDA window side. Defaults to 3.
        dilations (Sequence[int]): MSDA dilations, one per head group. Defaults to (1, 2, 3).
        padding_mode (str): MSDA border handling, ``'zeros'`` (official) or ``'mask'``.
            Defaults to ``'zeros'``.
        mlp_ratio (float): MLP width ratio. Defaults to 4.
        qkv_bias (bool): Bias in QKV projections. Defaults to True.
        drop_rate (float): Dropout after projections. Defaults to 0.
        attn_drop_rate (float): Dropout on attention weights. Defaults to 0.
        drop_path_rate (float): Stochastic depth rate, linearly increased over all blocks.
            Defaults to 0.1.
        out_indices (int | Sequence[int]): Stages whose (normed) outputs are returned.
            Defaults to (3, ).
        frozen_stages (int): Freeze the stem and the first ``frozen_stages`` stages (with their
            downsampling and output norms); 0 freezes nothing. Defaults to 0.
        norm_eval (bool): Keep BatchNorm layers (stem, downsampling) in eval mode while
            training. Defaults to False.
        norm_cfg (dict): Norm inside blocks and on outputs. Defaults to
            ``dict(type='LN', eps=1e-6)``.
        conv_norm_cfg (dict): Norm of the stem and downsampling convolutions. Defaults to
            ``dict(type='BN')``.
        act_cfg (dict): Activation of MLPs and stem. Defaults to ``dict(type='GELU')``.
        init_cfg (dict | list[dict], optional): Initialization config; use
            ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')`` to load the backbone
            of a classifier checkpoint. Defaults to truncated-normal linears, unit LayerNorms.
    """
    arch_settings: Dict[str, dict] = {
        'tiny': dict(embed_dims=72, depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24]),
        'small': dict(embed_dims=72, depths=[3, 5, 8, 3], num_heads=[3, 6, 12, 24]),
        'base': dict(embed_dims=96, depths=[4, 8, 10, 3], num_heads=[3, 6, 12, 24]),
    }

    def __init__(self,
                 arch: Union[str, dict] = 'tiny',
                 in_channels: int = 3,
                 stem_channels: int = 16,
                 msda_stages: Sequence[int] = (0, 1),
                 kernel_size: int = 3,
                 dilations: Sequence[int] = (1, 2, 3),
                 padding_mode: str = 'zeros',
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.1,
                 out_indices: Union[int, Sequence[int]] = (3, ),
                 frozen_stages: int = 0,
                 norm_eval: bool = False,
                 norm_cfg: dict = dict(type='LN', eps=1e-6),
                 conv_norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='GELU'),
                 init_cfg: Optional[Union[dict, List[dict]]] = [
                     dict(type='TruncNormal', layer='Linear', std=.02, bias=0.),
                     dict(type='Constant', layer='LayerNorm', val=1., bias=0.),
                 ]) -> None:
        super().__init__(init_cfg=init_cfg)
        arch = resolve_arch(arch, self.arch_settings, ('embed_dims', 'depths', 'num_heads'),
                            same_length=('depths', 'num_heads'))
        depths, num_heads = list(arch['depths']), list(arch['num_heads'])
        self.num_stages = len(depths)
        self.channels = [arch['embed_dims'] * 2**i for i in range(self.num_stages)]
        out_indices = normalize_indices(out_indices, self.num_stages)
        if not -1 <= frozen_stages <= self.num_stages:
            raise ValueError(f'"frozen_stages" must be in [-1, {self.num_stages}], got '
                             f'{frozen_stages}')
        if any(not 0 <= i < self.num_stages for i in msda_stages):
            raise ValueError(f'"msda_stages" must be in [0, {self.num_stages}), got '
                             f'{tuple(msda_stages)}')
        self.depths = depths
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval

        # Overlapping stem: 3x3 convs at stride 1, 2, 1, 2 -> stride 4.
        s = stem_channels
        stem = []
        for c_in, c_out, stride in [(in_channels, s, 1), (s, 2 * s, 2), (2 * s, 4 * s, 1)]:
            stem += [
                nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False),
                build_norm_layer(conv_norm_cfg, c_out)[1],
                build_activation_layer(act_cfg)
            ]
        stem.append(nn.Conv2d(4 * s, self.channels[0], 3, 2, 1, bias=False))
        # downsample_layers[0] is the stem, [i] the stride-2 conv before stage i (ConvNeXt
        # layout), so freezing and layer-wise lr decay treat them like mmpretrain backbones.
        self.downsample_layers = ModuleList([Sequential(*stem)])
        for i in range(1, self.num_stages):
            self.downsample_layers.append(
                Sequential(
                    nn.Conv2d(self.channels[i - 1], self.channels[i], 3, 2, 1),
                    build_norm_layer(conv_norm_cfg, self.channels[i])[1]))

        dpr = torch.linspace(0, drop_path_rate, sum(depths), device='cpu').tolist()
        msda_cfg = dict(kernel_size=kernel_size, dilations=tuple(dilations),
                        padding_mode=padding_mode)
        self.stages = ModuleList()
        for i, depth in enumerate(depths):
            start = sum(depths[:i])
            self.stages.append(
                Sequential(*[
                    DilateFormerBlock(
                        self.channels[i],
                        num_heads[i],
                        attn_type='msda' if i in msda_stages else 'global',
                        msda_cfg=msda_cfg,
                        mlp_ratio=mlp_ratio,
                        qkv_bias=qkv_bias,
                        drop_rate=drop_rate,
                        attn_drop_rate=attn_drop_rate,
                        drop_path_rate=dpr[start + j],
                        norm_cfg=norm_cfg,
                        act_cfg=act_cfg) for j in range(depth)
                ]))
        for i in self.out_indices:
            self.add_module(f'norm{i}', build_norm_layer(norm_cfg, self.channels[i])[1])
        self._freeze_stages()

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Return the features of ``out_indices``, each ``(B, C_i, H / 2**(i+2), W / ...)``."""
        outs = []
        for i in range(self.num_stages):
            x = self.stages[i](self.downsample_layers[i](x))
            if i in self.out_indices:
                norm = getattr(self, f'norm{i}')
                outs.append(norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2).contiguous())
        return tuple(outs)

    def _freeze_stages(self) -> None:
        # frozen_stages = k freezes stages 0..k-1 with their downsampling layers (ConvNeXt).
        k = max(self.frozen_stages, 0)
        freeze_modules([*self.downsample_layers[:k], *stage_modules(self, range(k))])
