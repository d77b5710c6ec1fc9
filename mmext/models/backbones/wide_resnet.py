"""Wide ResNet in the layout of the FixMatch / Dash semi-supervised code (WRN-28-2 et al.).

Zagoruyko & Komodakis, "Wide Residual Networks" (arXiv 1605.07146), as written in the
google-research/fixmatch ``libml/models.py`` ``ResNet`` classifier on which the official Dash
code (idstcv/Dash, "Dash: Semi-Supervised Learning with Dynamic Thresholding", arXiv 2109.00650)
runs; its CIFAR-10 / SVHN results use WRN-28-2.
"""
import math
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from mmpretrain.models.backbones.base_backbone import BaseBackbone

from mmext.registry import MODELS
from ..layers.backbone_utils import (FrozenStagesMixin, PretrainedCheckMixin, check_stage_args,
                                     freeze_modules)

__all__ = ['WideResNet', 'WideBasicBlock']


def _conv(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1) -> nn.Conv2d:
    # 'same' padding and a bias, as tf.layers.conv2d in the FixMatch code
    return nn.Conv2d(in_channels, out_channels, kernel_size, stride, kernel_size // 2)


class WideBasicBlock(BaseModule):
    """Pre-activation basic block of the FixMatch Wide ResNet.

    ``out = shortcut + conv3x3(act(bn(conv3x3(act(bn(x)), stride))))``. The shortcut is the raw
    input (identity), or a strided 1x1 conv when the width changes; with
    ``activate_before_residual`` (first block of the network) the shortcut starts from the
    activated input instead. Part of :class:`WideResNet` (arXiv 1605.07146, FixMatch layout).

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        stride (int): Stride of the first 3x3 conv (and of the 1x1 shortcut). Defaults to 1.
        activate_before_residual (bool): Feed the shortcut with ``act(bn(x))``. Defaults to False.
        norm_cfg (dict): Norm layer config. Defaults to BN with momentum 0.001 (TF decay 0.999).
        negative_slope (float): Leaky-ReLU slope. Defaults to 0.1.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 stride: int = 1,
                 activate_before_residual: bool = False,
                 norm_cfg: Dict = dict(type='BN', momentum=0.001),
                 negative_slope: float = 0.1,
                 init_cfg: Optional[Dict] = None) -> None:
        super().__init__(init_cfg)
        self.bn1 = build_norm_layer(norm_cfg, in_channels)[1]
        self.conv1 = _conv(in_channels, out_channels, 3, stride)
        self.bn2 = build_norm_layer(norm_cfg, out_channels)[1]
        self.conv2 = _conv(out_channels, out_channels, 3)
        self.act = nn.LeakyReLU(negative_slope)
        self.activate_before_residual = activate_before_residual
        # the FixMatch code projects only when the width changes (a stride-2 block of equal
        # width would not be shape-compatible: WRN always doubles the width when it strides)
        self.shortcut = _conv(in_channels, out_channels, 1, stride) \
            if in_channels != out_channels else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act(self.bn1(x))
        identity = out if self.activate_before_residual else x
        out = self.conv2(self.act(self.bn2(self.conv1(out))))
        if self.shortcut is not None:
            identity = self.shortcut(identity)
        return identity + out


@MODELS.register_module()
class WideResNet(PretrainedCheckMixin, FrozenStagesMixin, BaseBackbone):
    """Wide ResNet (WRN-d-k) of the FixMatch / Dash semi-supervised benchmarks.

    "Wide Residual Networks" (Zagoruyko & Komodakis, arXiv 1605.07146) in the layout of the
    FixMatch code that Dash (arXiv 2109.00650) builds on: a 3x3 conv stem of 16 channels, three
    groups of ``(depth - 4) / 6`` pre-activation basic blocks with ``16k, 32k, 64k`` channels
    (stride 1, 2, 2), a final BN + leaky ReLU (slope 0.1). BN momentum 0.001 (TF decay 0.999),
    conv weights ~ N(0, 2 / (k * k * out_channels)) with zero biases. WRN-28-2 (1.47 M
    parameters with a 10-class head) is the CIFAR-10 / SVHN network of both papers.

    Args:
        depth (int): ``6 n + 4``. Defaults to 28.
        widen_factor (int): Width multiplier ``k``. Defaults to 2.
        in_channels (int): Image channels. Defaults to 3.
        out_indices (Sequence[int]): Groups (0-2) whose output is returned; the last one has
            the final BN + activation applied. Defaults to ``(2, )``.
        frozen_stages (int): Freeze the stem and the first ``frozen_stages`` groups (-1: none).
            Defaults to -1.
        norm_eval (bool): Keep every BN layer in eval mode while training. Defaults to False.
        norm_cfg (dict): Norm layer config. Defaults to ``dict(type='BN', momentum=0.001)``.
        negative_slope (float): Leaky-ReLU slope. Defaults to 0.1.
        init_cfg (dict, optional): Initialization config; None uses the FixMatch
            initialisation above. Defaults to None.
    """

    def __init__(self,
                 depth: int = 28,
                 widen_factor: int = 2,
                 in_channels: int = 3,
                 out_indices: Sequence[int] = (2, ),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 norm_cfg: Dict = dict(type='BN', momentum=0.001),
                 negative_slope: float = 0.1,
                 init_cfg: Optional[Dict] = None) -> None:
        super().__init__(init_cfg)
        if depth < 10 or (depth - 4) % 6:
            raise ValueError(f'"depth" must be 6n + 4 with n >= 1 (10, 16, 22, 28, ...), '
                             f'got {depth}')
        if widen_factor < 1:
            raise ValueError(f'"widen_factor" must be >= 1, got {widen_factor}')
        self.out_indices = check_stage_args(out_indices, frozen_stages, 3)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        num_blocks = (depth - 4) // 6
        widths = [16 * widen_factor, 32 * widen_factor, 64 * widen_factor]
        self.stem = _conv(in_channels, 16, 3)
        self.stages = nn.ModuleList()
        prev = 16
        for i, width in enumerate(widths):
            blocks = [
                WideBasicBlock(prev if j == 0 else width, width,
                               stride=2 if (i > 0 and j == 0) else 1,
                               activate_before_residual=(i == 0 and j == 0),
                               norm_cfg=norm_cfg, negative_slope=negative_slope)
                for j in range(num_blocks)
            ]
            self.stages.append(nn.Sequential(*blocks))
            prev = width
        self.final_norm = build_norm_layer(norm_cfg, prev)[1]
        self.final_act = nn.LeakyReLU(negative_slope)
        self.num_features = widths
        self._freeze_stages()

    def init_weights(self) -> None:
        super().init_weights()
        if self.init_cfg is not None:
            return
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                k = m.kernel_size[0]
                nn.init.normal_(m.weight, 0., math.sqrt(2. / (k * k * m.out_channels)))
                nn.init.zeros_(m.bias)

    def _freeze_stages(self) -> None:
        if self.frozen_stages >= 0:
            freeze_modules([self.stem] + list(self.stages[:self.frozen_stages]))

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        x = self.stem(x)
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i == len(self.stages) - 1:
                x = self.final_act(self.final_norm(x))
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
