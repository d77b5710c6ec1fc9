"""Argument checks and frozen-stage / ``norm_eval`` handling shared by the mmext backbones.

Every backbone takes an ``arch`` name or dict and ``out_indices``; the way these are resolved
and checked (with errors naming the config key and the allowed values) lives here. Each
backbone decides WHICH modules a given ``frozen_stages`` freezes (its own ``_freeze_stages``);
how a module is frozen and how ``train()`` keeps frozen stages and BatchNorm layers in eval
mode is the same everywhere and lives here too.
"""
from copy import deepcopy
from typing import Iterable, List, Mapping, Sequence, Tuple, Union

import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = [
    'resolve_arch', 'normalize_indices', 'freeze_modules', 'stage_modules', 'check_stage_args',
    'FrozenStagesMixin', 'StemStagesFinalConvMixin'
]


def resolve_arch(arch: Union[str, Mapping],
                 arch_settings: Mapping[str, dict],
                 required_keys: Sequence[str],
                 same_length: Sequence[str] = ()) -> dict:
    """Return the settings of a backbone's ``arch``: a named variant or a custom dict.

    Names are looked up case-insensitively (as mmpretrain's ``VisionTransformer`` does), so
    ``arch_settings`` keys are lower case.

    Args:
        arch (str | dict): The ``arch`` argument of the backbone.
        arch_settings (Mapping[str, dict]): The backbone's named variants.
        required_keys (Sequence[str]): Keys a custom ``arch`` dict must have.
        same_length (Sequence[str]): Keys whose (sequence) values must have the same length,
            e.g. ``('depths', 'num_heads')``. Defaults to ``()``.

    Returns:
        dict: A copy of the settings (the class-level ``arch_settings`` stay untouched).

    Raises:
        ValueError: For an unknown name (listing the known ones), a dict missing keys or
            values of different lengths.
        TypeError: If ``arch`` is neither a str nor a dict.
    """
    if isinstance(arch, str):
        if arch.lower() not in arch_settings:
            raise ValueError(f'"arch" must be one of {sorted(arch_settings)} or a dict, '
                             f'got {arch!r}')
        arch = arch_settings[arch.lower()]
    elif isinstance(arch, Mapping):
        missing = [k for k in required_keys if k not in arch]
        if missing:
            raise ValueError(f'a custom "arch" must be a dict with keys {list(required_keys)}; '
                             f'it misses keys {missing}, got {dict(arch)!r}')
    else:
        raise TypeError(f'"arch" must be a str or dict, got {type(arch).__name__}')
    lengths = {k: len(arch[k]) for k in same_length}
    if len(set(lengths.values())) > 1:
        values = ' and '.join(f'"arch.{k}" {list(arch[k])}' for k in same_length)
        raise ValueError(f'{values} must have the same length')
    return deepcopy(dict(arch))


def normalize_indices(indices: Union[Sequence[int], int], length: int,
                      name: str = 'out_indices') -> List[int]:
    """Check indices into ``length`` items and map negative ones to ``length + i``.

    Args:
        indices (Sequence[int] | int): One index or several; negative values count from the
            end, as in Python.
        length (int): Number of items (stages, layers, outputs) indexed.
        name (str): Config key of ``indices``, for the error message. Defaults to
            ``'out_indices'``.

    Returns:
        List[int]: The indices, all in ``[0, length)``.
    """
    if isinstance(indices, int):
        indices = [indices]
    for i in indices:
        if not -length <= i < length:
            raise ValueError(f'"{name}" must be in [0, {length}), got {i} (negative values '
                             f'count from the end, down to {-length})')
    return [i % length for i in indices]


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
    out_indices = normalize_indices(out_indices, num_stages)
    if not -1 <= frozen_stages < num_stages:
        raise ValueError(f'"frozen_stages" must be in [-1, {num_stages}), got {frozen_stages}')
    return out_indices


def stage_modules(backbone: nn.Module, stage_ids: Iterable[int]) -> List[nn.Module]:
    """``backbone.stages[i]`` and, for an output stage, its output norm ``norm{i}``.

    The modules that freezing stage ``i`` of a backbone with per-output norms touches.

    Args:
        backbone (nn.Module): Has ``stages``, ``out_indices`` and ``norm{i}`` for each
            ``i`` in ``out_indices``.
        stage_ids (Iterable[int]): The stages.

    Returns:
        List[nn.Module]: The stages and their output norms.
    """
    modules = []
    for i in stage_ids:
        modules.append(backbone.stages[i])
        if i in backbone.out_indices:
            modules.append(getattr(backbone, f'norm{i}'))
    return modules


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
