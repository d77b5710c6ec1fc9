"""Scaled-ReLU convolutional stem for vision transformers.

Wang et al., "Scaled ReLU Matters for Training Vision Transformers", arXiv:2109.03810.
"""
import math
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmengine.utils import to_2tuple

from mmext.registry import MODELS

__all__ = ['ScaledReLUStem']


@MODELS.register_module()
class ScaledReLUStem(BaseModule):
    """Convolutional stem with scaled ReLU (BN + ReLU) that replaces ViT's patchify stem.

    From "Scaled ReLU Matters for Training Vision Transformers" (Wang et al., arXiv:2109.03810).
    A few convolutions, each followed by a *scaled ReLU* (BatchNorm then ReLU: the BN rescales
    the ReLU input, which the paper shows stabilises training and diversifies patch tokens),
    then a non-overlapping ``patch_size`` projection to ``embed_dims``. The default (7x7 s2,
    3x3, 3x3 with 64 channels, then an 8x8 projection) has the overall stride 16 of a ViT-16
    patchify stem. It is a drop-in for ``mmcv.cnn.bricks.transformer.PatchEmbed``: ``forward``
    returns ``(tokens (B, N, C), (H, W))`` and ``init_out_size`` is the token grid of
    ``input_size``. Inputs of any size work: the last feature map is zero-padded on the
    bottom/right to a multiple of ``patch_size``.

    Args:
        in_channels (int): Input image channels. Defaults to 3.
        embed_dims (int): Token dimension. Defaults to 768.
        stem_channels (int): Channels of the stem convolutions. Defaults to 64.
        kernel_sizes (Sequence[int]): Kernel size of each stem conv. Defaults to (7, 3, 3).
        strides (Sequence[int]): Stride of each stem conv. Defaults to (2, 1, 1).
        patch_size (int): Kernel = stride of the final projection. Defaults to 8.
        scaled (bool): Use BN before each ReLU (the paper's scaled ReLU). ``False`` gives the
            paper's plain-ReLU ablation. Defaults to True.
        input_size (int | tuple, optional): Image size used to compute ``init_out_size``.
            Defaults to 224.
        norm_cfg (dict | Sequence[dict]): Norm of the scaled ReLU, or one norm per stem conv
            (e.g. TransReID-SSL's IBN-BN stem: two IBN layers then BN). Defaults to
            ``dict(type='BN')``.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 in_channels: int = 3,
                 embed_dims: int = 768,
                 stem_channels: int = 64,
                 kernel_sizes: Sequence[int] = (7, 3, 3),
                 strides: Sequence[int] = (2, 1, 1),
                 patch_size: int = 8,
                 scaled: bool = True,
                 input_size: Optional[Union[int, Tuple[int, int]]] = 224,
                 norm_cfg: Union[Dict, Sequence[Dict]] = dict(type='BN'),
                 init_cfg: Optional[Dict] = None) -> None:
        super().__init__(init_cfg)
        if len(kernel_sizes) != len(strides):
            raise ValueError(f'"kernel_sizes" {tuple(kernel_sizes)} and "strides" '
                             f'{tuple(strides)} must have the same length')
        norm_cfgs = [norm_cfg] * len(strides) if isinstance(norm_cfg, dict) else list(norm_cfg)
        if len(norm_cfgs) != len(strides):
            raise ValueError(f'"norm_cfg" has {len(norm_cfgs)} entries for {len(strides)} stem '
                             'convs: give one dict, or one per conv')
        if any(s < 1 for s in strides) or patch_size < 1:
            raise ValueError(f'"strides" {tuple(strides)} and "patch_size" {patch_size} '
                             'must be >= 1')
        self.kernel_sizes = tuple(kernel_sizes)
        self.strides = tuple(strides)
        self.patch_size = patch_size
        self.total_stride = math.prod(strides) * patch_size
        convs = []
        c_in = in_channels
        for k, s, norm in zip(kernel_sizes, strides, norm_cfgs):
            # bias is redundant before BN; without BN (ablation) keep it like a plain conv.
            convs.append(
                ConvModule(c_in, stem_channels, k, s, k // 2, bias=not scaled,
                           norm_cfg=norm if scaled else None, act_cfg=dict(type='ReLU')))
            c_in = stem_channels
        self.convs = nn.Sequential(*convs)
        self.projection = nn.Conv2d(c_in, embed_dims, patch_size, patch_size)
        self.init_input_size = None if input_size is None else to_2tuple(input_size)
        self.init_out_size = None if input_size is None else self.out_size(self.init_input_size)

    def out_size(self, hw: Tuple[int, int]) -> Tuple[int, int]:
        """Token grid (H, W) produced for an input of spatial size ``hw``."""
        h, w = hw
        for k, s in zip(self.kernel_sizes, self.strides):
            h = (h + 2 * (k // 2) - k) // s + 1
            w = (w + 2 * (k // 2) - k) // s + 1
        return math.ceil(h / self.patch_size), math.ceil(w / self.patch_size)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int]]:
        x = self.convs(x)
        pad_h = -x.shape[2] % self.patch_size
        pad_w = -x.shape[3] % self.patch_size
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h))
        x = self.projection(x)
        hw = (x.shape[2], x.shape[3])
        # (B, C, H, W) -> (B, H*W, C)
        return x.flatten(2).transpose(1, 2), hw
