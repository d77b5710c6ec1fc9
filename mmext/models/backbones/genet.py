"""GENet: GPU-Efficient Networks.

Lin et al., "Neural Architecture Design for GPU-Efficient Networks", arXiv:2006.14090.
Structures follow the published ``GENet_{small,normal,large}.txt`` strings of the official
repository idstcv/GPU-Efficient-Networks (read for the facts only).
"""
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule, build_activation_layer
from mmengine.model import BaseModule
from mmpretrain.models.backbones.base_backbone import BaseBackbone

from mmext.registry import MODELS
from ..layers.backbone_utils import (PretrainedCheckMixin, StemStagesFinalConvMixin,
                                     check_stage_args, resolve_arch)

__all__ = ['GENet', 'GEResLayer']

# Block types of the paper: ``XX`` (two full KxK convs, used at high resolution where full
# convolutions are cheap on GPU), ``BL`` (1x1-KxK-1x1 bottleneck) and ``DW`` (1x1-depthwise KxK-1x1
# inverted bottleneck, used at low resolution).
BLOCK_TYPES = ('XX', 'BL', 'DW')


class GEResLayer(BaseModule):
    """One residual unit of GENet (an ``XX``, ``BL`` or ``DW`` block).

    From "Neural Architecture Design for GPU-Efficient Networks" (arXiv:2006.14090). The residual
    branch is ``XX``: KxK conv(in->mid, stride) - KxK conv(mid->out); ``BL``: 1x1(in->mid) -
    KxK(mid->mid, stride) - 1x1(mid->out); ``DW``: like ``BL`` with a depthwise KxK. Every conv
    is followed by BN (ReLU except after the last); the shortcut is identity or a strided 1x1
    conv + BN, and ReLU follows the sum.

    Args:
        block_type (str): ``'XX'``, ``'BL'`` or ``'DW'``.
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        kernel_size (int): Size K of the spatial convolutions. Defaults to 3.
        stride (int): Stride of the first spatial convolution. Defaults to 1.
        expansion (float): ``mid = round(out_channels * expansion)``. Defaults to 1.0.
        norm_cfg (dict): Normalization config. Defaults to ``dict(type='BN')``.
        act_cfg (dict): Activation config. Defaults to ``dict(type='ReLU')``.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 block_type: str,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: int = 3,
                 stride: int = 1,
                 expansion: float = 1.0,
                 norm_cfg: Dict = dict(type='BN'),
                 act_cfg: Dict = dict(type='ReLU'),
                 init_cfg: Optional[Dict] = None) -> None:
        super().__init__(init_cfg)
        if block_type not in BLOCK_TYPES:
            raise ValueError(f'"block_type" must be one of {BLOCK_TYPES}, got {block_type!r}')
        mid = int(round(out_channels * expansion))
        if mid < 1:
            raise ValueError(f'"expansion" {expansion} gives {mid} mid channels for '
                             f'out_channels={out_channels}')
        pad = (kernel_size - 1) // 2
        common = dict(bias=False, norm_cfg=norm_cfg)
        if block_type == 'XX':
            self.branch = nn.Sequential(
                ConvModule(in_channels, mid, kernel_size, stride, pad, act_cfg=act_cfg, **common),
                ConvModule(mid, out_channels, kernel_size, 1, pad, act_cfg=None, **common))
        else:
            groups = mid if block_type == 'DW' else 1
            self.branch = nn.Sequential(
                ConvModule(in_channels, mid, 1, act_cfg=act_cfg, **common),
                ConvModule(mid, mid, kernel_size, stride, pad, groups=groups, act_cfg=act_cfg,
                           **common),
                ConvModule(mid, out_channels, 1, act_cfg=None, **common))
        if stride == 1 and in_channels == out_channels:
            self.shortcut = nn.Identity()
        else:
            self.shortcut = ConvModule(
                in_channels, out_channels, 1, stride, act_cfg=None, **common)
        self.act = build_activation_layer(act_cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.branch(x) + self.shortcut(x))


@MODELS.register_module()
class GENet(PretrainedCheckMixin, StemStagesFinalConvMixin, BaseBackbone):
    """GENet backbone.

    From "Neural Architecture Design for GPU-Efficient Networks" (Lin et al., arXiv:2006.14090).
    GENet uses full convolutions (``XX`` / ``BL`` blocks) in the high-resolution stages, where
    they are GPU-friendly, and depthwise ``DW`` blocks in the low-resolution stages; the
    structures were found by the paper's latency-aware search. The network is a 3x3 stride-2
    conv stem, five stages and a final 1x1 conv to ``last_channels`` (output index 5).

    Args:
        arch (str | dict): ``'small'`` (alias ``'light'``), ``'normal'`` or ``'large'``, or a
            dict with ``stem_channels`` (int), ``stages`` (list of ``[block_type,
            out_channels, kernel_size, stride, expansion, num_layers]``) and ``last_channels``.
            Defaults to ``'normal'``.
        in_channels (int): Input image channels. Defaults to 3.
        out_indices (Sequence[int] | int): Outputs to return: ``0..len(stages)-1`` are the
            stages, ``len(stages)`` the final 1x1 conv. Negative values count from the end.
            Defaults to -1.
        frozen_stages (int): Freeze the stem (``0``) and the first ``frozen_stages`` stages;
            -1 freezes nothing. Defaults to -1.
        norm_cfg (dict): Normalization config. Defaults to ``dict(type='BN')``.
        act_cfg (dict): Activation config. Defaults to ``dict(type='ReLU')``.
        norm_eval (bool): Keep BN layers in eval mode while training. Defaults to False.
        init_cfg (dict | list[dict], optional): Initialization config. Defaults to Kaiming for
            convs and constant 1 / 0 for norms.
    """

    arch_settings = {
        # Numbers from GENet_{small,normal,large}.txt (official repository). With a
        # 1000-class fc they give 8.17M / 21.14M / 31.08M parameters.
        **dict.fromkeys(['small', 'light', 's'], {
            'stem_channels': 13,
            'stages': [['XX', 48, 3, 2, 1.0, 1], ['XX', 48, 3, 2, 1.0, 3],
                       ['BL', 384, 3, 2, 0.25, 7], ['DW', 560, 3, 2, 3.0, 2],
                       ['DW', 256, 3, 1, 3.0, 1]],
            'last_channels': 1920}),
        **dict.fromkeys(['normal', 'n', 'm'], {
            'stem_channels': 32,
            'stages': [['XX', 128, 3, 2, 1.0, 1], ['XX', 192, 3, 2, 1.0, 2],
                       ['BL', 640, 3, 2, 0.25, 6], ['DW', 640, 3, 2, 3.0, 4],
                       ['DW', 640, 3, 1, 3.0, 1]],
            'last_channels': 2560}),
        **dict.fromkeys(['large', 'l'], {
            'stem_channels': 32,
            'stages': [['XX', 128, 3, 2, 1.0, 1], ['XX', 192, 3, 2, 1.0, 2],
                       ['BL', 640, 3, 2, 0.25, 6], ['DW', 640, 3, 2, 3.0, 5],
                       ['DW', 640, 3, 1, 3.0, 4]],
            'last_channels': 2560}),
    }

    def __init__(self,
                 arch: Union[str, Dict] = 'normal',
                 in_channels: int = 3,
                 out_indices: Union[Sequence[int], int] = -1,
                 frozen_stages: int = -1,
                 norm_cfg: Dict = dict(type='BN'),
                 act_cfg: Dict = dict(type='ReLU'),
                 norm_eval: bool = False,
                 init_cfg: Optional[Union[Dict, List[Dict]]] = [
                     dict(type='Kaiming', layer='Conv2d'),
                     dict(type='Constant', val=1, layer=['_BatchNorm'])
                 ]) -> None:
        super().__init__(init_cfg)
        arch = resolve_arch(arch, self.arch_settings,
                            ('stem_channels', 'stages', 'last_channels'))
        self.arch = arch
        stages = arch['stages']
        for i, stage in enumerate(stages):
            if len(stage) != 6:
                raise ValueError(f'"arch.stages[{i}]" must be [block_type, out_channels, '
                                 f'kernel_size, stride, expansion, num_layers], got {stage}')
            if stage[5] < 1:
                raise ValueError(f'"arch.stages[{i}]" num_layers must be >= 1, got {stage[5]}')
        self.num_outputs = len(stages) + 1
        # outputs: the stages, then the final conv; frozen_stages = k freezes stem + k stages
        self.out_indices = check_stage_args(out_indices, frozen_stages, self.num_outputs)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval

        self.stem = ConvModule(
            in_channels, arch['stem_channels'], 3, 2, 1, bias=False, norm_cfg=norm_cfg,
            act_cfg=act_cfg)
        self.stages = nn.ModuleList()
        channels = arch['stem_channels']
        self.out_channels: List[int] = []
        for block_type, out_c, k, stride, expansion, num_layers in stages:
            layers = []
            for j in range(num_layers):
                layers.append(
                    GEResLayer(block_type, channels, out_c, k, stride if j == 0 else 1,
                               expansion, norm_cfg=norm_cfg, act_cfg=act_cfg))
                channels = out_c
            self.stages.append(nn.Sequential(*layers))
            self.out_channels.append(out_c)
        self.final_conv = ConvModule(
            channels, arch['last_channels'], 1, bias=False, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.out_channels.append(arch['last_channels'])
        self._freeze_stages()
