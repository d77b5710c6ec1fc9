"""SOLIDER: a Swin Transformer with a semantic controller for human-centric tasks.

Chen et al., "Beyond Appearance: a Semantic Controllable Self-Supervised Learning Framework for
Human-Centric Visual Tasks", CVPR 2023, arXiv:2303.17602. Layout and forward follow the official
tinyvision/SOLIDER (``swin_transformer.py``) and tinyvision/SOLIDER-REID code.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import ModuleList
from mmpretrain.models.backbones import SwinTransformer

from mmext.registry import MODELS
from ..layers.backbone_utils import (OFFICIAL_CONVERTERS, FrozenStagesMixin, PretrainedCheckMixin,
                                     check_stage_args, resolve_arch)

__all__ = ['SOLIDERSwin']


@MODELS.register_module()
class SOLIDERSwin(PretrainedCheckMixin, FrozenStagesMixin, SwinTransformer):
    """SOLIDER Swin-T/S/B: Swin Transformer whose stages are modulated by a semantic weight.

    From "Beyond Appearance: a Semantic Controllable Self-Supervised Learning Framework for
    Human-Centric Visual Tasks" (arXiv:2303.17602). A scalar ``semantic_weight`` lambda in
    [0, 1] says how much semantic (vs appearance) information the features should carry. The
    vector ``[lambda, 1 - lambda]`` goes through two linear layers per stage,
    ``semantic_embed_w[i]`` and ``semantic_embed_b[i]`` (2 -> C), and the tokens entering stage
    ``i + 1`` (after patch merging) become ``x * softplus(w) + b``, channel-wise. Stage outputs
    (``out_indices``) are taken before this modulation, as in the official code; the last
    stage's pair exists in the published checkpoints but, as officially, changes no output. The
    semantic layers keep their random initialisation (they are frozen in the official code,
    during pre-training and fine-tuning alike). Windows follow the dense-task Swin of the
    official code: maps are padded to whole windows and shifted windows are always used.

    Args:
        arch (str | dict): ``'tiny'``, ``'small'``, ``'base'`` (or ``'t'``, ``'s'``, ``'b'``)
            or a dict with ``embed_dims``, ``depths``, ``num_heads``. Defaults to ``'tiny'``.
        semantic_weight (float): lambda in [0, 1] used when ``forward`` gets none (1.0 in the
            official demo and SOLIDER-REID's default config, 0.2 in its re-ID runs, 1.0 in the
            pedestrian detection and 0.0 in the human parsing code). Defaults to 1.0.
        img_size (int | tuple): Nominal input size (only for mmpretrain's bookkeeping; no
            absolute position embedding is used). Defaults to ``(256, 128)``.
        drop_path_rate (float): Stochastic depth rate. Defaults to 0.1.
        out_indices (Sequence[int] | int): Output stages (0-3). Defaults to ``(3, )``.
        frozen_stages (int): Freeze the patch embedding and stages ``0..frozen_stages``.
            Defaults to -1.
        pad_small_map (bool): Pad maps smaller than a window (the official behaviour); False
            shrinks the window as mmpretrain's classification Swin. Defaults to True.
        init_cfg (dict | list[dict], optional): Initialisation; defaults to the official
            truncated-normal (std 0.02) Linear weights and unit LayerNorms.
        **kwargs: Other mmpretrain ``SwinTransformer`` arguments (``window_size``,
            ``drop_rate``, ``with_cp``, ``norm_eval``, ``norm_cfg`` ...).
    """
    arch_settings: Dict[str, dict] = {
        name: SwinTransformer.arch_zoo[name] for name in ('t', 'tiny', 's', 'small', 'b', 'base')
    }

    def __init__(self,
                 arch: Union[str, dict] = 'tiny',
                 semantic_weight: float = 1.0,
                 img_size: Union[int, Tuple[int, int]] = (256, 128),
                 drop_path_rate: float = 0.1,
                 out_indices: Union[Sequence[int], int] = (3, ),
                 frozen_stages: int = -1,
                 pad_small_map: bool = True,
                 init_cfg: Optional[Union[dict, List[dict]]] = [
                     dict(type='TruncNormal', layer='Linear', std=.02, bias=0.),
                     dict(type='Constant', layer='LayerNorm', val=1., bias=0.)
                 ],
                 **kwargs) -> None:
        arch = resolve_arch(arch, self.arch_settings, ('embed_dims', 'depths', 'num_heads'),
                            same_length=('depths', 'num_heads'))
        out_indices = check_stage_args(out_indices, frozen_stages, len(arch['depths']))
        semantic_weight = self._check_weight(semantic_weight)
        if kwargs.get('out_after_downsample') or kwargs.get('use_abs_pos_embed'):
            raise ValueError('SOLIDER Swin has no "out_after_downsample" / "use_abs_pos_embed"')
        super().__init__(
            arch={k: arch[k] for k in ('embed_dims', 'depths', 'num_heads')},
            img_size=img_size, drop_path_rate=drop_path_rate, out_indices=out_indices,
            frozen_stages=frozen_stages, pad_small_map=pad_small_map, init_cfg=init_cfg,
            **kwargs)
        self.semantic_weight = semantic_weight
        # width of the tokens each pair modulates: those entering the next stage; the last
        # pair has the last stage's width (official ``num_features[min(i + 1, 3)]``)
        widths = [self.embed_dims * 2**min(i + 1, self.num_layers - 1)
                  for i in range(self.num_layers)]
        self.semantic_embed_w = ModuleList([nn.Linear(2, c) for c in widths])
        self.semantic_embed_b = ModuleList([nn.Linear(2, c) for c in widths])
        for param in [*self.semantic_embed_w.parameters(), *self.semantic_embed_b.parameters()]:
            param.requires_grad = False

    @staticmethod
    def _check_weight(value: float) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not 0. <= value <= 1.:
            raise ValueError(f'"semantic_weight" must be a number in [0, 1], got {value!r}')
        return float(value)

    def semantic_vector(self, x: torch.Tensor,
                        semantic_weight: Optional[Union[float, torch.Tensor]] = None
                        ) -> torch.Tensor:
        """``(B, 2)`` rows ``[lambda, 1 - lambda]`` for the batch ``x``; ``semantic_weight``
        is a float or a ``(B, )`` tensor (default: the configured ``semantic_weight``)."""
        if semantic_weight is None:
            semantic_weight = self.semantic_weight
        if isinstance(semantic_weight, torch.Tensor):
            lam = semantic_weight.to(x).reshape(-1, 1).expand(x.shape[0], 1)
        else:
            lam = x.new_full((x.shape[0], 1), self._check_weight(semantic_weight))
        return torch.cat([lam, 1 - lam], dim=1)

    def forward(self, x: torch.Tensor,
                semantic_weight: Optional[Union[float, torch.Tensor]] = None
                ) -> Tuple[torch.Tensor, ...]:
        """Return the (B, C_i, H_i, W_i) maps of the stages in ``out_indices``."""
        lam = self.semantic_vector(x, semantic_weight)
        x, hw_shape = self.patch_embed(x)  # (B, H/4 * W/4, C)
        x = self.drop_after_pos(x)
        outs = []
        for i, stage in enumerate(self.stages):
            x, hw_shape = stage(x, hw_shape, do_downsample=False)
            if i in self.out_indices:
                out = getattr(self, f'norm{i}')(x)
                # (B, H*W, C) -> (B, C, H, W)
                outs.append(out.view(-1, *hw_shape, self.num_features[i]).permute(0, 3, 1, 2)
                            .contiguous())
            if stage.downsample is not None:
                x, hw_shape = stage.downsample(x, hw_shape)
                # (B, 2) -> (B, 1, C): scale and shift of every token of the next stage
                scale = F.softplus(self.semantic_embed_w[i](lam)).unsqueeze(1)
                x = x * scale + self.semantic_embed_b[i](lam).unsqueeze(1)
        return tuple(outs)


OFFICIAL_CONVERTERS['SOLIDERSwin'] = 'solider'
