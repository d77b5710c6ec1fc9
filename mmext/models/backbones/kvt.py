# Copyright (c) mmext contributors. All rights reserved.
"""KVT: a DeiT backbone whose attention is chosen by config (k-NN attention by default)."""
import copy
from typing import Optional

import torch
import torch.nn as nn
from mmengine.model.weight_init import trunc_normal_
from mmpretrain.models.backbones import VisionTransformer

from mmext.registry import MODELS
from ..layers.backbone_utils import PretrainedCheckMixin, is_pretrained

__all__ = ['KVT']


@MODELS.register_module()
class KVT(PretrainedCheckMixin, VisionTransformer):
    """DeiT-style vision transformer with k-NN attention (KVT).

    From "KVT: k-NN Attention for Boosting Vision Transformers" (arXiv:2106.00515). The network
    is a plain DeiT; only the attention of every encoder layer is replaced by the module that
    ``attn_cfg`` describes, by default :class:`~mmext.models.layers.KNNAttention`, in which
    each query keeps its ``topk`` most similar keys. ``dict(type='mmext.KNNAttention',
    topk=None)`` gives the dense DeiT baseline with the same parameters.

    Everything else (patch embedding, cls token, position embedding resized by interpolation to
    any input size, ``out_indices``, ``out_type``, ``frozen_stages``, ``init_cfg``, checkpoint
    layout) is mmpretrain's ``VisionTransformer``: the attention modules it builds are swapped
    for ours right after construction, keeping their key names, so mmpretrain-format DeiT
    checkpoints load as they are. The timm-layout files that KVT and DeiT publish have other
    key names: convert them with ``tools/model_converters/kvt_to_mmext.py``. Initialisation is
    the official one (truncated normal, std 0.02, for ``cls_token``, ``pos_embed`` and every
    linear, FFN included).

    Args:
        arch (str | dict): A ``VisionTransformer`` arch: ``'deit-tiny'``, ``'deit-small'``,
            ``'deit-base'`` (or any other of its ``arch_zoo``, or a dict with ``embed_dims``,
            ``num_layers``, ``num_heads``, ``feedforward_channels``). Defaults to
            ``'deit-tiny'``.
        attn_cfg (dict): Config of the attention of every layer, built from the mmext registry;
            ``embed_dims``, ``num_heads``, ``qkv_bias``, the dropouts and the layer's
            stochastic-depth ``dropout_layer`` are filled in unless given. Defaults to
            ``dict(type='mmext.KNNAttention', topk=100)`` (the official KVT setting).
        drop_path_rate (float): Stochastic depth rate, linear over layers. Defaults to 0.1
            (DeiT recipe).
        init_cfg (dict | list[dict], optional): Initialization config, e.g.
            ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')``. Defaults to
            truncated-normal linears (std 0.02), as DeiT.
        **kwargs: Other ``VisionTransformer`` arguments (``img_size``, ``patch_size``,
            ``in_channels``, ``out_indices``, ``out_type``, ``frozen_stages``, ``drop_rate``,
            ``qkv_bias``, ``layer_cfgs`` ...).
    """

    def __init__(self,
                 arch: str = 'deit-tiny',
                 attn_cfg: dict = dict(type='mmext.KNNAttention', topk=100),
                 drop_path_rate: float = 0.1,
                 init_cfg: Optional[dict] = [
                     dict(type='TruncNormal', layer='Linear', std=.02, bias=0.),
                     dict(type='Constant', layer='LayerNorm', val=1., bias=0.),
                 ],
                 **kwargs) -> None:
        if not isinstance(attn_cfg, dict) or 'type' not in attn_cfg:
            raise ValueError(f'"attn_cfg" must be a dict with a "type" key, got {attn_cfg!r}')
        if isinstance(kwargs.get('out_indices'), (tuple, list)):
            # The host normalises negative indices in place, which fails on a tuple.
            kwargs['out_indices'] = list(kwargs['out_indices'])
        super().__init__(arch=arch, drop_path_rate=drop_path_rate, init_cfg=init_cfg, **kwargs)
        # Rebuild each layer's attention with the hyper-parameters the host just gave it
        # (width, heads, dropouts, this layer's drop-path rate), overridden by ``attn_cfg``.
        dpr = torch.linspace(0, drop_path_rate, self.num_layers, device='cpu').tolist()
        for layer, drop_path in zip(self.layers, dpr):
            old = layer.attn
            cfg = dict(
                embed_dims=old.embed_dims,
                num_heads=old.num_heads,
                qkv_bias=old.qkv.bias is not None,
                attn_drop=old.attn_drop,
                proj_drop=old.proj_drop.p,
                dropout_layer=dict(type='DropPath', drop_prob=drop_path),
                layer_scale_init_value=kwargs.get('layer_scale_init_value', 0.))
            cfg.update(copy.deepcopy(attn_cfg))
            layer.attn = MODELS.build(cfg)
        # The frozen layers' new attentions must be frozen as well.
        if self.frozen_stages > 0:
            self._freeze_stages()

    def init_weights(self) -> None:
        """The official (DeiT / timm) init: truncated-normal (std 0.02) ``cls_token``,
        ``pos_embed`` and linears, zero biases; mmpretrain leaves ``cls_token`` at zero and
        gives the FFN linears Xavier-uniform weights (std 1e-6 biases)."""
        super().init_weights()
        if is_pretrained(self.init_cfg):
            return
        trunc_normal_(self.cls_token, std=.02)
        for layer in self.layers:
            for m in layer.ffn.modules():
                if isinstance(m, nn.Linear):
                    trunc_normal_(m.weight, std=.02)
                    nn.init.zeros_(m.bias)
