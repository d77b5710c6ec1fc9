"""ViT with the Scaled-ReLU convolutional stem.

Wang et al., "Scaled ReLU Matters for Training Vision Transformers", arXiv:2109.03810.
"""
import math
from typing import Dict, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmpretrain.models.backbones import VisionTransformer

from mmext.registry import MODELS
from ..layers.backbone_utils import PretrainedCheckMixin

__all__ = ['ScaledReLUViT']


@MODELS.register_module()
class ScaledReLUViT(PretrainedCheckMixin, VisionTransformer):
    """mmpretrain ``VisionTransformer`` whose patchify stem is a :class:`ScaledReLUStem`.

    From "Scaled ReLU Matters for Training Vision Transformers" (Wang et al., arXiv:2109.03810).
    mmpretrain builds its patch embedding from ``patch_cfg`` with mmcv's fixed ``PatchEmbed``
    class, so the stem cannot be swapped by config alone; this thin subclass replaces
    ``patch_embed`` after the parent constructor and rebuilds ``pos_embed`` if the token grid
    differs. Everything else (``arch``, ``out_indices``, ``out_type``, ``frozen_stages``,
    layer-wise decay names) is the parent's.

    Args:
        arch (str | dict): ViT architecture, as in mmpretrain (e.g. ``'deit-small'``).
            Defaults to ``'deit-small'``.
        img_size (int | tuple): Input size used for ``pos_embed``. Defaults to 224.
        patch_size (int): Overall stride of the stem (the ViT patch size). Defaults to 16.
        in_channels (int): Input image channels. Defaults to 3.
        stem_cfg (dict, optional): Overrides for the stem config (default type
            ``'mmext.ScaledReLUStem'``). Its projection ``patch_size`` defaults to
            ``patch_size / prod(strides)``. Defaults to None.
        **kwargs: Other ``VisionTransformer`` arguments.
    """

    def __init__(self,
                 arch: Union[str, Dict] = 'deit-small',
                 img_size: Union[int, Tuple[int, int]] = 224,
                 patch_size: int = 16,
                 in_channels: int = 3,
                 stem_cfg: Optional[Dict] = None,
                 **kwargs) -> None:
        super().__init__(
            arch=arch, img_size=img_size, patch_size=patch_size, in_channels=in_channels,
            **kwargs)
        cfg = dict(type='mmext.ScaledReLUStem')
        cfg.update(stem_cfg or {})
        strides = cfg.get('strides', (2, 1, 1))
        conv_stride = math.prod(strides)
        if 'patch_size' not in cfg:
            if patch_size % conv_stride:
                raise ValueError(f'"patch_size" {patch_size} is not divisible by the stem '
                                 f'conv strides {tuple(strides)}; set stem_cfg.patch_size')
            cfg['patch_size'] = patch_size // conv_stride
        cfg.update(in_channels=in_channels, embed_dims=self.embed_dims, input_size=img_size)
        self.patch_embed = MODELS.build(cfg)
        resolution = tuple(self.patch_embed.init_out_size)
        if resolution != tuple(self.patch_resolution):
            self.patch_resolution = resolution
            if self.pos_embed is not None:
                n = resolution[0] * resolution[1] + self.num_extra_tokens
                self.pos_embed = nn.Parameter(torch.zeros(1, n, self.embed_dims))
        # The parent froze its own (now replaced) patch embedding.
        if self.frozen_stages > 0:
            self._freeze_stages()

    def train(self, mode: bool = True) -> 'ScaledReLUViT':
        super().train(mode)
        # Unlike a patchify conv, the stem has BatchNorm: a frozen stem must keep its running
        # statistics, which the parent's train() (no override) would let drift.
        if self.frozen_stages > 0:
            self._freeze_stages()
        return self
