"""ZenNet: networks found by Zen-NAS.

Lin et al., "Zen-NAS: A Zero-Shot NAS for High-Performance Deep Image Recognition",
arXiv:2102.01063 (ICCV 2021). The ImageNet ``flops{400,600,900}M`` structures with
squeeze-excitation are transcribed from the structure strings of the official repository
idstcv/ZenNAS (``ZenNet/zennet_imagenet1k_flops*_res224.txt``); published sizes with the
2048 -> 1000 fc: 5.7M / 7.1M / 19.4M parameters, 410M / 611M / 934M FLOPs at 224x224.
"""
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule, build_norm_layer
from mmengine.model import BaseModule
from mmpretrain.models.backbones.base_backbone import BaseBackbone

from mmext.registry import MODELS
from ..layers.backbone_utils import (PretrainedCheckMixin, StemStagesFinalConvMixin,
                                     check_stage_args, resolve_arch)

__all__ = ['ZenNet', 'ZenResUnit', 'make_divisible_round']


def make_divisible_round(x: float, base: int = 8) -> int:
    """Round ``x`` to the nearest multiple of ``base`` (at least ``base``), as Zen-NAS does."""
    return max(base, int(round(x / base)) * base)


class _SqueezeExcite(BaseModule):
    """Squeeze-excitation with BN in the gate, as in the ZenNet SE blocks (ratio 1/4)."""

    def __init__(self, channels: int, ratio: float = 0.25,
                 norm_cfg: Dict = dict(type='BN', eps=1e-3)) -> None:
        super().__init__()
        mid = max(1, int(round(channels * ratio)))
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            ConvModule(channels, mid, 1, bias=False, norm_cfg=norm_cfg),
            ConvModule(mid, channels, 1, bias=False, norm_cfg=norm_cfg,
                       act_cfg=dict(type='Sigmoid')))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)


class ZenResUnit(BaseModule):
    """Bottleneck residual unit of the Zen-NAS ``IDW`` / ``K1KXK1`` search spaces.

    From "Zen-NAS: A Zero-Shot NAS for High-Performance Deep Image Recognition"
    (arXiv:2102.01063). Branch: 1x1 conv to ``mid`` - KxK (stride; depthwise for ``IDW``, full
    for ``K1KXK1``) - optional SE - 1x1 conv to ``out_channels``, each conv with BN and all but
    the last with ReLU. The shortcut is identity, or a strided 1x1 conv (with bias) + BN when
    shapes change or ``force_proj``. A ReLU follows the sum. MAE-DET ("MAE-DET: Revisiting
    Maximum Entropy Principle in Zero-Shot NAS for Efficient Object Detection",
    arXiv:2111.13336) uses the full-conv unit with an average-pooled shortcut
    (``depthwise=False, avg_down=True, proj_bias=False``).

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        mid_channels (int): Channels of the depthwise convolution.
        kernel_size (int): Depthwise kernel size. Defaults to 3.
        stride (int): Depthwise stride. Defaults to 1.
        use_se (bool): Add squeeze-excitation after the depthwise conv. Defaults to False.
        force_proj (bool): Always use a projection shortcut (first unit of a block).
            Defaults to False.
        depthwise (bool): Depthwise KxK conv (``IDW``); False: a full KxK conv on ``mid``
            channels (``K1KXK1``). Defaults to True.
        avg_down (bool): Downsample the shortcut with a 2x2 average pooling (stride) before a
            stride-1 projection, as MAE-DET; False: the projection conv is strided.
            Defaults to False.
        proj_bias (bool): Bias of the projection conv (Zen-NAS keeps it, MAE-DET has none).
            Defaults to True.
        norm_cfg (dict): Norm config. Defaults to ``dict(type='BN', eps=1e-3)`` (the
            official models set eps 1e-3 on every BatchNorm).
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 mid_channels: int,
                 kernel_size: int = 3,
                 stride: int = 1,
                 use_se: bool = False,
                 force_proj: bool = False,
                 depthwise: bool = True,
                 avg_down: bool = False,
                 proj_bias: bool = True,
                 norm_cfg: Dict = dict(type='BN', eps=1e-3),
                 init_cfg: Optional[Dict] = None) -> None:
        super().__init__(init_cfg)
        layers = [
            ConvModule(in_channels, mid_channels, 1, bias=False, norm_cfg=norm_cfg),
            ConvModule(mid_channels, mid_channels, kernel_size, stride, kernel_size // 2,
                       groups=mid_channels if depthwise else 1, bias=False, norm_cfg=norm_cfg)
        ]
        if use_se:
            layers.append(_SqueezeExcite(mid_channels, norm_cfg=norm_cfg))
        layers.append(
            ConvModule(mid_channels, out_channels, 1, bias=False, norm_cfg=norm_cfg, act_cfg=None))
        self.branch = nn.Sequential(*layers)
        if force_proj or stride > 1 or in_channels != out_channels:
            # Zen-NAS' projection keeps its conv bias in front of the BN
            proj = [nn.Conv2d(in_channels, out_channels, 1, 1 if avg_down else stride,
                              bias=proj_bias),
                    build_norm_layer(norm_cfg, out_channels)[1]]
            if avg_down and stride > 1:
                # ceil_mode: same as the official 2x2 pooling on even sizes, and odd sizes
                # still match the strided KxK branch
                proj.insert(0, nn.AvgPool2d(stride, stride, ceil_mode=True,
                                            count_include_pad=False))
            self.shortcut = nn.Sequential(*proj)
        else:
            self.shortcut = nn.Identity()
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.branch(x) + self.shortcut(x))


@MODELS.register_module()
class ZenNet(PretrainedCheckMixin, StemStagesFinalConvMixin, BaseBackbone):
    """ZenNet backbone (architectures found by Zen-NAS).

    From "Zen-NAS: A Zero-Shot NAS for High-Performance Deep Image Recognition" (Lin et al.,
    arXiv:2102.01063). Zen-NAS searches, under a FLOPs or latency budget, for the network that
    maximises the training-free Zen-score (see ``tools/analysis/zen_score.py``). The ImageNet
    ``flops*`` models are a 3x3 conv stem, blocks of ``IDW`` units and a final 1x1 conv; each
    block repeats ``sub_layers`` times a pair of inverted-bottleneck units (``in -> bottleneck``
    with the block stride, then ``bottleneck -> out``), their depthwise widths being
    ``expansion x`` the unit output rounded to a multiple of 8.

    Args:
        arch (str | dict): ``'flops400m-se'``, ``'flops600m-se'``, ``'flops900m-se'`` or a dict
            with ``stem_channels``, ``blocks`` (list of ``[expansion, kernel_size,
            out_channels, stride, bottleneck_channels, sub_layers]``), ``last_channels`` and
            ``use_se``. Defaults to ``'flops400m-se'``.
        in_channels (int): Input image channels. Defaults to 3.
        out_indices (Sequence[int] | int): Outputs: ``0..len(blocks)-1`` the blocks,
            ``len(blocks)`` the final 1x1 conv. Defaults to -1.
        frozen_stages (int): Freeze the stem (0) and the first ``frozen_stages`` blocks;
            -1 freezes nothing. Defaults to -1.
        norm_eval (bool): Keep BN layers in eval mode while training. Defaults to False.
        norm_cfg (dict): Norm config of every conv unit. Defaults to
            ``dict(type='BN', eps=1e-3)``, the eps of the official models.
        init_cfg (dict | list[dict], optional): Initialization config. Defaults to Kaiming for
            convs and constant for BN.
    """

    arch_settings = {
        'flops400m-se': {
            'stem_channels': 16,
            'blocks': [[1, 7, 40, 2, 40, 1], [1, 7, 64, 2, 64, 1], [4, 7, 96, 2, 96, 5],
                       [2, 7, 224, 2, 224, 5]],
            'last_channels': 2048, 'use_se': True},
        'flops600m-se': {
            'stem_channels': 24,
            'blocks': [[1, 7, 48, 2, 48, 1], [2, 7, 72, 2, 72, 1], [6, 7, 96, 2, 88, 5],
                       [4, 7, 192, 2, 168, 5]],
            'last_channels': 2048, 'use_se': True},
        'flops900m-se': {
            'stem_channels': 16,
            'blocks': [[1, 7, 48, 2, 72, 1], [2, 7, 72, 2, 64, 3], [2, 7, 152, 2, 144, 3],
                       [2, 7, 360, 2, 352, 4], [4, 7, 288, 1, 264, 3]],
            'last_channels': 2048, 'use_se': True},
    }

    def __init__(self,
                 arch: Union[str, Dict] = 'flops400m-se',
                 in_channels: int = 3,
                 out_indices: Union[Sequence[int], int] = -1,
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 norm_cfg: Dict = dict(type='BN', eps=1e-3),
                 init_cfg: Optional[Union[Dict, List[Dict]]] = [
                     dict(type='Kaiming', layer='Conv2d'),
                     dict(type='Constant', val=1, layer=['_BatchNorm'])
                 ]) -> None:
        super().__init__(init_cfg)
        arch = resolve_arch(arch, self.arch_settings,
                            ('stem_channels', 'blocks', 'last_channels'))
        for i, b in enumerate(arch['blocks']):
            if len(b) != 6 or b[5] < 1:
                raise ValueError(f'"arch.blocks[{i}]" must be [expansion, kernel_size, '
                                 f'out_channels, stride, bottleneck_channels, sub_layers>=1], '
                                 f'got {b}')
        self.arch = arch
        self.num_outputs = len(arch['blocks']) + 1
        # outputs: the blocks, then the final conv; frozen_stages = k freezes stem + k blocks
        self.out_indices = check_stage_args(out_indices, frozen_stages, self.num_outputs)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        use_se = arch.get('use_se', False)

        self.stem = ConvModule(in_channels, arch['stem_channels'], 3, 2, 1, bias=False,
                               norm_cfg=norm_cfg)
        c = arch['stem_channels']
        self.stages = nn.ModuleList()
        self.out_channels = []
        for expansion, k, out_c, stride, btn, n in arch['blocks']:
            units = []
            for i in range(n):
                units.append(
                    ZenResUnit(c, btn, make_divisible_round(btn * expansion), k,
                               stride if i == 0 else 1, use_se, force_proj=i == 0,
                               norm_cfg=norm_cfg))
                units.append(
                    ZenResUnit(btn, out_c, make_divisible_round(out_c * expansion), k, 1,
                               use_se, norm_cfg=norm_cfg))
                c = out_c
            self.stages.append(nn.Sequential(*units))
            self.out_channels.append(out_c)
        self.final_conv = ConvModule(c, arch['last_channels'], 1, bias=False, norm_cfg=norm_cfg)
        self.out_channels.append(arch['last_channels'])
        self._freeze_stages()
