"""SuperViT: one ViT for several token grids (patch sizes) and token keeping rates.

Lin et al., "Super Vision Transformer", arXiv:2205.11397 (IJCV). Facts (grids 8/10/12/14 at patch
16, keeping rates 0.5/0.7/1, pruning after blocks 4, 7 and 10 of DeiT-S, class-attention token
ranking) follow the official repository lmbxmu/SuperViT.
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmcv.cnn.bricks.drop import build_dropout
from mmcv.cnn.bricks.transformer import FFN
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_
from mmpretrain.models.backbones.base_backbone import BaseBackbone

from mmext.registry import MODELS
from ..layers.backbone_utils import (PretrainedCheckMixin, freeze_modules, normalize_indices,
                                     resolve_arch)

__all__ = ['SuperViT', 'SuperViTBlock', 'select_tokens_by_cls_attention']


def select_tokens_by_cls_attention(x: torch.Tensor, attn: torch.Tensor,
                                   keep_rate: float) -> torch.Tensor:
    """Keep the class token and the patch tokens the class token attends to most.

    Args:
        x (Tensor): Tokens ``(B, 1 + N, C)``, class token first.
        attn (Tensor): Attention probabilities ``(B, heads, 1 + N, 1 + N)`` of the block.
        keep_rate (float): Fraction of the N patch tokens to keep (``ceil``), in (0, 1].

    Returns:
        Tensor: ``(B, 1 + ceil(keep_rate * N), C)``; kept tokens are ordered by score.
    """
    num_patches = x.shape[1] - 1
    num_keep = math.ceil(keep_rate * num_patches)
    if num_keep >= num_patches:
        return x
    # Class-token attention averaged over heads ranks the patch tokens: (B, N).
    score = attn[:, :, 0, 1:].mean(dim=1)
    index = score.topk(num_keep, dim=1).indices + 1
    index = torch.cat([index.new_zeros(index.shape[0], 1), index], dim=1)
    return torch.gather(x, 1, index.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


class SuperViTBlock(BaseModule):
    """Pre-norm ViT block that can drop tokens between its attention and its MLP.

    From "Super Vision Transformer" (arXiv:2205.11397): when a keeping rate below 1 is active
    for this block, the patch tokens least attended by the class token are removed after the
    attention residual, so the MLP and all later blocks see fewer tokens.

    Args:
        embed_dims (int): Token dimension.
        num_heads (int): Attention heads.
        feedforward_channels (int): Hidden width of the MLP.
        qkv_bias (bool): Bias for the qkv projection. Defaults to True.
        drop_rate (float): Dropout after projections. Defaults to 0.
        attn_drop_rate (float): Dropout on attention probabilities. Defaults to 0.
        drop_path_rate (float): Stochastic depth rate. Defaults to 0.
        norm_cfg (dict): Norm config. Defaults to ``dict(type='LN', eps=1e-6)``.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 feedforward_channels: int,
                 qkv_bias: bool = True,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 norm_cfg: Dict = dict(type='LN', eps=1e-6),
                 init_cfg: Optional[Dict] = None) -> None:
        super().__init__(init_cfg)
        if embed_dims % num_heads:
            raise ValueError(f'"embed_dims" {embed_dims} must be divisible by "num_heads" '
                             f'{num_heads}')
        self.num_heads = num_heads
        self.scale = (embed_dims // num_heads)**-0.5
        self.norm1 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop_rate)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(drop_rate)
        self.drop_path = build_dropout(dict(type='DropPath', drop_prob=drop_path_rate))
        self.norm2 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.ffn = FFN(embed_dims, feedforward_channels, act_cfg=dict(type='GELU'),
                       ffn_drop=drop_rate, add_identity=False)

    def attention(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Multi-head self-attention returning ``(out (B, N, C), probs (B, h, N, N))``."""
        B, N, C = x.shape
        # (B, N, 3C) -> (3, B, heads, N, C // heads)
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, C // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        # softmax in fp32 keeps AMP runs from overflowing in the logits.
        attn = ((q * self.scale) @ k.transpose(-2, -1)).float().softmax(dim=-1).to(q.dtype)
        out = (self.attn_drop(attn) @ v).transpose(1, 2).reshape(B, N, C)
        return self.proj_drop(self.proj(out)), attn

    def forward(self, x: torch.Tensor, keep_rate: float = 1.0) -> torch.Tensor:
        out, attn = self.attention(self.norm1(x))
        x = x + self.drop_path(out)
        if keep_rate < 1.0:
            x = select_tokens_by_cls_attention(x, attn.detach(), keep_rate)
        return x + self.drop_path(self.ffn(self.norm2(x)))


@MODELS.register_module()
class SuperViT(PretrainedCheckMixin, BaseBackbone):
    """Super Vision Transformer backbone.

    From "Super Vision Transformer" (Lin et al., arXiv:2205.11397). One DeiT-style ViT serves
    several *token grids* (the paper's patch sizes: a 224 image cut into 8x8 ... 14x14 patches,
    implemented as in the official code by resizing the image to ``grid * patch_size`` with a
    per-grid position embedding) and several *token keeping rates* (after the attention of the
    ``prune_layers`` blocks, only the patch tokens most attended by the class token are kept).
    The active setting is ``self.setting = (grid, keep_rate)``: :class:`SuperViTClassifier`
    samples it during training and ``default_setting`` chooses it for inference.

    Args:
        arch (str | dict): ``'deit-tiny'``, ``'deit-small'``, ``'deit-base'`` or a dict with
            ``embed_dims``, ``num_layers``, ``num_heads``, ``feedforward_channels``.
            Defaults to ``'deit-small'``.
        patch_size (int): Patch size on the resized image. Defaults to 16.
        token_grids (Sequence[int]): Supported token grids (tokens per side).
            Defaults to (8, 10, 12, 14).
        keep_rates (Sequence[float]): Supported keeping rates in (0, 1]. Defaults to
            (0.5, 0.7, 1.0).
        prune_layers (Sequence[int]): 0-based blocks after whose attention tokens are
            dropped. Defaults to (3, 6, 9).
        default_setting (tuple, optional): ``(grid, keep_rate)`` used when nothing else sets
            one (inference). Defaults to ``(max(token_grids), 1.0)``.
        in_channels (int): Input image channels. Defaults to 3.
        out_indices (Sequence[int] | int): Blocks whose output is returned. Defaults to -1.
        out_type (str): ``'cls_token'`` (B, C) or ``'avg_featmap'`` (mean of the kept patch
            tokens, B, C). Defaults to ``'cls_token'``.
        qkv_bias (bool): Bias for qkv. Defaults to True.
        drop_rate (float): Dropout rate. Defaults to 0.
        drop_path_rate (float): Stochastic depth rate (linear over blocks). Defaults to 0.
        norm_cfg (dict): Norm config. Defaults to ``dict(type='LN', eps=1e-6)``.
        final_norm (bool): Norm after the last block. Defaults to True.
        frozen_stages (int): Freeze the patch embedding, tokens and the first
            ``frozen_stages`` blocks; -1 freezes nothing. Defaults to -1.
        init_cfg (dict | list[dict], optional): Initialization config. Defaults to
            truncated normal (std 0.02) for Linear layers.
    """

    arch_zoo = {
        **dict.fromkeys(['deit-t', 'deit-tiny'], {
            'embed_dims': 192, 'num_layers': 12, 'num_heads': 3,
            'feedforward_channels': 768}),
        **dict.fromkeys(['deit-s', 'deit-small'], {
            'embed_dims': 384, 'num_layers': 12, 'num_heads': 6,
            'feedforward_channels': 1536}),
        **dict.fromkeys(['deit-b', 'deit-base'], {
            'embed_dims': 768, 'num_layers': 12, 'num_heads': 12,
            'feedforward_channels': 3072}),
    }
    OUT_TYPES = ('cls_token', 'avg_featmap')

    def __init__(self,
                 arch: Union[str, Dict] = 'deit-small',
                 patch_size: int = 16,
                 token_grids: Sequence[int] = (8, 10, 12, 14),
                 keep_rates: Sequence[float] = (0.5, 0.7, 1.0),
                 prune_layers: Sequence[int] = (3, 6, 9),
                 default_setting: Optional[Tuple[int, float]] = None,
                 in_channels: int = 3,
                 out_indices: Union[Sequence[int], int] = -1,
                 out_type: str = 'cls_token',
                 qkv_bias: bool = True,
                 drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 norm_cfg: Dict = dict(type='LN', eps=1e-6),
                 final_norm: bool = True,
                 frozen_stages: int = -1,
                 init_cfg: Optional[Union[Dict, List[Dict]]] = [
                     dict(type='TruncNormal', layer='Linear', std=.02, bias=0.),
                     dict(type='Constant', layer='LayerNorm', val=1., bias=0.)
                 ]) -> None:
        super().__init__(init_cfg)
        arch = resolve_arch(arch, self.arch_zoo,
                            ('embed_dims', 'num_layers', 'num_heads', 'feedforward_channels'))
        self.embed_dims = arch['embed_dims']
        self.num_layers = arch['num_layers']
        if not token_grids or any(g < 1 for g in token_grids):
            raise ValueError(f'"token_grids" must be positive ints, got {token_grids}')
        if not keep_rates or any(not 0 < r <= 1 for r in keep_rates):
            raise ValueError(f'"keep_rates" must lie in (0, 1], got {keep_rates}')
        if any(not 0 <= i < self.num_layers for i in prune_layers):
            raise ValueError(f'"prune_layers" {prune_layers} must lie in '
                             f'[0, {self.num_layers})')
        if out_type not in self.OUT_TYPES:
            raise ValueError(f'"out_type" must be one of {self.OUT_TYPES}, got {out_type!r}')
        self.patch_size = patch_size
        self.token_grids = tuple(sorted(token_grids))
        self.keep_rates = tuple(sorted(keep_rates))
        self.prune_layers = tuple(prune_layers)
        self.out_type = out_type
        self.out_indices = normalize_indices(out_indices, self.num_layers)
        self.default_setting = (self.token_grids[-1], 1.0) if default_setting is None \
            else tuple(default_setting)
        self.setting = self.default_setting
        self.set_setting(*self.default_setting)

        self.patch_embed = nn.Conv2d(in_channels, self.embed_dims, patch_size, patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, self.embed_dims))
        # One position embedding per grid, as in the official code (no interpolation).
        self.pos_embeds = nn.ParameterList([
            nn.Parameter(torch.zeros(1, g * g + 1, self.embed_dims)) for g in self.token_grids
        ])
        self.drop_after_pos = nn.Dropout(drop_rate)
        # plain Python (no tensor op): the model can also be built on the meta device
        dpr = [drop_path_rate * i / max(self.num_layers - 1, 1) for i in range(self.num_layers)]
        self.layers = nn.ModuleList([
            SuperViTBlock(self.embed_dims, arch['num_heads'], arch['feedforward_channels'],
                          qkv_bias, drop_rate, 0., dpr[i], norm_cfg)
            for i in range(self.num_layers)
        ])
        self.final_norm = final_norm
        self.ln1 = build_norm_layer(norm_cfg, self.embed_dims)[1] if final_norm \
            else nn.Identity()
        if not -1 <= frozen_stages <= self.num_layers:
            raise ValueError(f'"frozen_stages" must be in [-1, {self.num_layers}], got '
                             f'{frozen_stages}')
        self.frozen_stages = frozen_stages
        self._freeze_stages()

    def init_weights(self) -> None:
        super().init_weights()
        if not (isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained'):
            trunc_normal_(self.cls_token, std=.02)
            for p in self.pos_embeds:
                trunc_normal_(p, std=.02)

    @property
    def settings(self) -> List[Tuple[int, float]]:
        """All ``(grid, keep_rate)`` pairs the model supports."""
        return [(g, r) for g in self.token_grids for r in self.keep_rates]

    def set_setting(self, grid: int, keep_rate: float) -> None:
        """Select the token grid and keeping rate used by the following forwards."""
        if grid not in self.token_grids:
            raise ValueError(f'grid {grid} is not in "token_grids" {self.token_grids}')
        if keep_rate not in self.keep_rates:
            raise ValueError(f'keep_rate {keep_rate} is not in "keep_rates" {self.keep_rates}')
        self.setting = (grid, float(keep_rate))

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        grid, keep_rate = self.setting
        size = grid * self.patch_size
        if x.shape[-2:] != (size, size):
            # bilinear with align_corners=True as in the official implementation.
            x = F.interpolate(x, (size, size), mode='bilinear', align_corners=True)
        # (B, C, H, W) -> (B, grid * grid, C)
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = self.drop_after_pos(x + self.pos_embeds[self.token_grids.index(grid)])
        outs = []
        for i, layer in enumerate(self.layers):
            x = layer(x, keep_rate if i in self.prune_layers else 1.0)
            if i == self.num_layers - 1:
                x = self.ln1(x)
            if i in self.out_indices:
                outs.append(x[:, 0] if self.out_type == 'cls_token' else x[:, 1:].mean(1))
        return tuple(outs)

    def _freeze_stages(self) -> None:
        if self.frozen_stages < 0:
            return
        self.patch_embed.eval()
        for p in [self.cls_token, *self.pos_embeds, *self.patch_embed.parameters()]:
            p.requires_grad = False
        freeze_modules(self.layers[:self.frozen_stages])
        if self.frozen_stages == self.num_layers:
            for p in self.ln1.parameters():
                p.requires_grad = False

    def train(self, mode: bool = True) -> 'SuperViT':
        super().train(mode)
        self._freeze_stages()
        return self
