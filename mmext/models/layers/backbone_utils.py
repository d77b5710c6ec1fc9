"""Frozen-stage / ``norm_eval`` handling shared by the mmext backbones.

Each backbone decides WHICH modules a given ``frozen_stages`` freezes (its own
``_freeze_stages``); how a module is frozen and how ``train()`` keeps frozen stages and
BatchNorm layers in eval mode is the same everywhere and lives here.
"""
from typing import Iterable, List, Sequence, Tuple, Union

import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = ['freeze_modules', 'check_stage_args', 'FrozenStagesMixin', 'StemStagesFinalConvMixin']


def freeze_modules(modules: Iterable[nn.Module]) -> None:
    """Put ``modules`` in eval mode and stop gradients to all their parameters.

    Args:
        modules (Iterable[nn.Module]): The modules to freeze.
    """
    for m in modules:
        m.eval()
        for param in m.parameters():
            param.requires_grad = False


def check_stage_args(out_indices: Union[Sequence[int], int], frozen_stages: int,
                     num_stages: int) -> List[int]:
    """Validate ``out_indices`` / ``frozen_stages`` of a backbone with ``num_stages`` stages.

    Args:
        out_indices (Sequence[int] | int): Stages whose outputs are returned; negative values
            count from the last stage.
        frozen_stages (int): Last frozen stage, in ``[-1, num_stages)`` (-1: none frozen).
        num_stages (int): Number of stages of the backbone.

    Returns:
        List[int]: ``out_indices`` as a list of non-negative stage indices.
    """
    if isinstance(out_indices, int):
        out_indices = [out_indices]
    out_indices = [i + num_stages if i < 0 else i for i in out_indices]
    for i in out_indices:
        if not 0 <= i < num_stages:
            raise ValueError(f'"out_indices" must be in [0, {num_stages}), got {i}')
    if not -1 <= frozen_stages < num_stages:
        raise ValueError(f'"frozen_stages" must be in [-1, {num_stages}), got {frozen_stages}')
    return out_indices


class FrozenStagesMixin:
    """``train()`` override for backbones with ``frozen_stages`` and ``norm_eval``.

    ``nn.Module.train()`` would switch frozen stages back to train mode (updating their BN
    statistics), so the mode switch re-applies the host's ``_freeze_stages()`` and, with
    ``norm_eval``, puts every BatchNorm layer back in eval mode. Put it before the
    ``nn.Module`` base in the class bases; the host defines ``_freeze_stages()`` and
    ``norm_eval``.
    """

    def train(self, mode: bool = True) -> nn.Module:
        """Switch mode while keeping frozen stages (and BN layers if ``norm_eval``) in eval."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self


class StemStagesFinalConvMixin(FrozenStagesMixin):
    """``forward`` and freezing of a ``stem -> stages -> final_conv`` CNN (GENet, ZenNet).

    Output ``i < len(stages)`` is stage ``i``'s map and output ``len(stages)`` the 1x1
    ``final_conv`` on the last stage; ``frozen_stages = k`` freezes the stem and the first ``k``
    stages. The host defines ``stem``, ``stages``, ``final_conv``, ``num_outputs``
    (``len(stages) + 1``), ``out_indices`` (non-negative), ``frozen_stages`` and ``norm_eval``.
    """

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Return the maps of the outputs in ``out_indices``."""
        x = self.stem(x)
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self.out_indices:
                outs.append(x)
        if self.num_outputs - 1 in self.out_indices:
            outs.append(self.final_conv(x))
        return tuple(outs)

    def _freeze_stages(self) -> None:
        if self.frozen_stages < 0:
            return
        freeze_modules([self.stem] + list(self.stages[:self.frozen_stages]))
