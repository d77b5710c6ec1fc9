"""TransReID-SSL: a ViT with an IBN-based convolution stem (ICS) for person re-identification.

Luo et al., "Self-Supervised Pre-Training for Transformer-Based Person Re-Identification",
arXiv:2111.12084. Layout and facts (stem, strides, widths, LayerNorm eps, position-embedding
resizing of the 256x128 pre-training grid) follow the official damo-cv/TransReID-SSL code
(``transreid_pytorch/model/backbones/vit_pytorch.py`` and ``dino/ours_vit.py``).
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn import build_norm_layer
from mmpretrain.models.utils import resize_pos_embed

from mmext.registry import MODELS
from ..layers.backbone_utils import OFFICIAL_CONVERTERS, normalize_indices, resolve_arch
from .scaled_relu_vit import ScaledReLUViT

__all__ = ['IBN', 'TransReIDSSLViT']


@MODELS.register_module()
class IBN(nn.Module):
    """Instance-batch normalisation (IBN-a): instance norm on the first half of the channels,
    batch norm on the rest.

    The norm of the ICS stem in "Self-Supervised Pre-Training for Transformer-Based Person
    Re-Identification" (arXiv:2111.12084), taken from IBN-Net: instance norm removes per-image
    appearance (colour, illumination) that hurts re-ID across cameras, batch norm keeps the
    content statistics. Usable as an mmcv norm layer (``norm_cfg=dict(type='mmext.IBN')``).

    Args:
        num_features (int): Number of channels C; the first ``int(C / 2)`` are instance-normed.
        eps (float): Epsilon of both norms. Defaults to 1e-5.
        bn_cfg (dict): Config of the batch-norm half (e.g. ``dict(type='SyncBN')``).
            Defaults to ``dict(type='BN')``.
    """
    _abbr_ = 'ibn'

    def __init__(self, num_features: int, eps: float = 1e-5,
                 bn_cfg: Dict = dict(type='BN')) -> None:
        super().__init__()
        self.half = int(num_features / 2)
        self.instance_norm = nn.InstanceNorm2d(self.half, eps=eps, affine=True)
        self.batch_norm = build_norm_layer(dict(bn_cfg, eps=eps), num_features - self.half)[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inst, batch = x.split([self.half, x.shape[1] - self.half], dim=1)
        return torch.cat([self.instance_norm(inst.contiguous()),
                          self.batch_norm(batch.contiguous())], dim=1)


@MODELS.register_module()
class TransReIDSSLViT(ScaledReLUViT):
    """TransReID-SSL ViT: ViT-S/16 or ViT-B/16 with the IBN-based convolution stem (ICS).

    From "Self-Supervised Pre-Training for Transformer-Based Person Re-Identification"
    (arXiv:2111.12084). The patchify layer is replaced by the ICS: conv 7x7 stride 2 -> IBN ->
    ReLU, conv 3x3 -> IBN -> ReLU, conv 3x3 -> BN -> ReLU (64 channels, no conv bias), then an
    8x8 stride-8 projection, so the token stride stays 16. The transformer is the ViT of the
    official code (qkv bias, LayerNorm eps 1e-6, pre-norm blocks, final norm). Published
    checkpoints are pre-trained with DINO on LUPerson at 256x128 (a 16x8 token grid); the
    position embedding is resized bilinearly, as the official fine-tuning code does, to another
    ``img_size`` when a checkpoint is loaded and to another input size at run time. The default
    output is the class token after the final norm (the official re-ID feature);
    ``out_type='featmap'`` with several ``out_indices`` gives (B, C, H/16, W/16) maps for
    detection / segmentation necks.

    Args:
        arch (str | dict): ``'small'`` / ``'s'`` (384 wide, 6 heads) or ``'base'`` / ``'b'``
            (768, 12 heads), 12 layers each; or a dict with ``embed_dims``, ``num_layers``,
            ``num_heads``, ``feedforward_channels``. Defaults to ``'small'``.
        img_size (int | tuple): Input size of the position embedding. Defaults to
            ``(256, 128)``, the re-ID / pre-training size.
        patch_size (int): Token stride (stem stride 2 x projection). Defaults to 16.
        in_channels (int): Input image channels. Defaults to 3.
        stem_channels (int): Width of the ICS convolutions. Defaults to 64.
        out_indices (Sequence[int] | int): Layers whose outputs are returned. Defaults to -1.
        out_type (str): ``'cls_token'``, ``'featmap'``, ``'avg_featmap'`` or ``'raw'``
            (mmpretrain's). Defaults to ``'cls_token'``.
        drop_path_rate (float): Stochastic depth rate (0.1 in the official fine-tuning).
            Defaults to 0.1.
        interpolate_mode (str): Mode of the position-embedding resizing. Defaults to
            ``'bilinear'`` (official fine-tuning).
        frozen_stages (int): Freeze the stem, tokens and the first ``frozen_stages`` layers
            (in ``[-1, num_layers]``; -1 and 0 freeze nothing). Defaults to -1.
        bn_cfg (dict): Batch norm of the stem (its IBN halves and last norm), e.g.
            ``dict(type='SyncBN')``. Defaults to ``dict(type='BN')``.
        init_cfg (dict | list[dict], optional): Initialisation; defaults to the official
            truncated-normal (std 0.02) Linear weights and unit LayerNorms.
        **kwargs: Other mmpretrain ``VisionTransformer`` arguments (``drop_rate``,
            ``final_norm``, ``with_cp`` ...).
    """
    arch_settings: Dict[str, dict] = {
        **dict.fromkeys(['s', 'small'], {
            'embed_dims': 384, 'num_layers': 12, 'num_heads': 6, 'feedforward_channels': 1536}),
        **dict.fromkeys(['b', 'base'], {
            'embed_dims': 768, 'num_layers': 12, 'num_heads': 12, 'feedforward_channels': 3072}),
    }  # yapf: disable
    # the stem: (kernel, stride) of each conv, and its norms (official ``PatchEmbed.conv``)
    stem_kernels = (7, 3, 3)
    stem_strides = (2, 1, 1)

    def __init__(self,
                 arch: Union[str, dict] = 'small',
                 img_size: Union[int, Tuple[int, int]] = (256, 128),
                 patch_size: int = 16,
                 in_channels: int = 3,
                 stem_channels: int = 64,
                 out_indices: Union[Sequence[int], int] = -1,
                 out_type: str = 'cls_token',
                 drop_path_rate: float = 0.1,
                 interpolate_mode: str = 'bilinear',
                 frozen_stages: int = -1,
                 bn_cfg: Dict = dict(type='BN'),
                 init_cfg: Optional[Union[dict, List[dict]]] = [
                     dict(type='TruncNormal', layer='Linear', std=.02, bias=0.),
                     dict(type='Constant', layer='LayerNorm', val=1., bias=0.)
                 ],
                 **kwargs) -> None:
        arch = resolve_arch(arch, self.arch_settings,
                            ('embed_dims', 'num_layers', 'num_heads', 'feedforward_channels'))
        out_indices = normalize_indices(out_indices, arch['num_layers'])
        if not -1 <= frozen_stages <= arch['num_layers']:
            raise ValueError(f'"frozen_stages" must be in [-1, {arch["num_layers"]}], '
                             f'got {frozen_stages}')
        stride = math.prod(self.stem_strides)
        if patch_size % stride:
            raise ValueError(f'"patch_size" must be a multiple of the stem stride {stride}, '
                             f'got {patch_size}')
        ibn = dict(type=IBN, bn_cfg=bn_cfg)
        stem_cfg = dict(stem_channels=stem_channels, kernel_sizes=self.stem_kernels,
                        strides=self.stem_strides, norm_cfg=[ibn, ibn, bn_cfg])
        super().__init__(
            arch=arch, img_size=img_size, patch_size=patch_size, in_channels=in_channels,
            stem_cfg=stem_cfg, out_indices=out_indices, out_type=out_type,
            drop_path_rate=drop_path_rate, qkv_bias=True,
            norm_cfg=dict(type='LN', eps=1e-6), interpolate_mode=interpolate_mode,
            frozen_stages=frozen_stages, init_cfg=init_cfg, **kwargs)

    def _source_grid(self, num_tokens: int) -> Tuple[int, int]:
        """(H, W) of a checkpoint's position grid of ``num_tokens`` entries.

        Tried in turn: the aspect ratio of our own grid, 2:1 (the official 256x128 pre-training,
        ``PRETRAIN_HW_RATIO: 2``), then square.
        """
        own_h, own_w = self.patch_resolution
        for ratio in (own_h / own_w, 2., 1.):
            w = max(1, round(math.sqrt(num_tokens / ratio)))
            h = num_tokens // w
            if h * w == num_tokens and math.isclose(h / w, ratio):
                return h, w
        raise ValueError(f'pos_embed of the checkpoint has {num_tokens} grid entries: not a '
                         f'grid with the aspect ratio of img_size, 2:1 or 1:1')

    def _prepare_pos_embed(self, state_dict, prefix, *args, **kwargs) -> None:
        # mmpretrain assumes a square checkpoint grid; re-ID checkpoints are 2:1 (16x8 tokens).
        name = prefix + 'pos_embed'
        if name not in state_dict or state_dict[name].shape == self.pos_embed.shape:
            return
        src = self._source_grid(state_dict[name].shape[1] - self.num_extra_tokens)
        state_dict[name] = resize_pos_embed(state_dict[name], src, self.patch_resolution,
                                            self.interpolate_mode, self.num_extra_tokens)

    def _freeze_stages(self) -> None:
        # mmpretrain freezes the stem and tokens for any frozen_stages it is called with
        if self.frozen_stages > 0:
            super()._freeze_stages()


OFFICIAL_CONVERTERS['TransReIDSSLViT'] = 'transreid_ssl'
