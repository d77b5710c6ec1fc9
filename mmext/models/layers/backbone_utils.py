"""Argument checks, frozen-stage / ``norm_eval`` handling and checked pretrained loading
shared by the mmext backbones.

Every backbone takes an ``arch`` name or dict and ``out_indices``; the way these are resolved
and checked (with errors naming the config key and the allowed values) lives here. Each
backbone decides WHICH modules a given ``frozen_stages`` freezes (its own ``_freeze_stages``);
how a module is frozen and how ``train()`` keeps frozen stages and BatchNorm layers in eval
mode is the same everywhere and lives here too, as does :class:`PretrainedCheckMixin`, which
refuses a ``Pretrained`` checkpoint that does not fit the backbone.
"""
from collections import OrderedDict
from copy import deepcopy
from typing import Iterable, List, Mapping, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model.weight_init import PretrainedInit
from mmengine.runner.checkpoint import CheckpointLoader, load_state_dict
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = [
    'resolve_arch', 'normalize_indices', 'freeze_modules', 'stage_modules', 'check_stage_args',
    'FrozenStagesMixin', 'StemStagesFinalConvMixin', 'is_pretrained', 'PretrainedCheckMixin'
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
    """``forward`` and freezing of a ``stem -> stages -> final_conv`` CNN (GENet, ZenNet,
    MAE-DET).

    Output ``i < len(stages)`` is stage ``i``'s map and output ``len(stages)`` the 1x1
    ``final_conv`` on the last stage; ``frozen_stages = k`` freezes the stem and the first ``k``
    stages. The host defines ``stem``, ``stages``, ``final_conv`` (None: no final conv, as
    MAE-DET), ``out_indices`` (non-negative), ``frozen_stages`` and ``norm_eval``.
    """

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Return the maps of the outputs in ``out_indices``."""
        x = self.stem(x)
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self.out_indices:
                outs.append(x)
        if self.final_conv is not None and len(self.stages) in self.out_indices:
            outs.append(self.final_conv(x))
        return tuple(outs)

    def _freeze_stages(self) -> None:
        if self.frozen_stages < 0:
            return
        freeze_modules([self.stem] + list(self.stages[:self.frozen_stages]))


# Backbone class -> what turns its officially published weights into our layout.
OFFICIAL_CONVERTERS = {
    'DilateFormer': 'dilateformer',
    'KVT': 'kvt',
    'ELSASwin': 'elsa',
    'PSLT': 'pslt',
    'STViT': 'stvit',
    'SuperViT': 'supervit',
    'GENet': 'genet',
    'ZenNet': 'zennet',
    'MAEDet': 'maedet',
}
NO_CONVERTER = {
    'STViTDeiT': 'no converter exists for the official STViT DeiT checkpoints; train it with '
    'our config (tools/train.py) and use that checkpoint',
    'ScaledReLUViT': 'no official checkpoints are converted for it; train it with our config '
    '(tools/train.py) and use that checkpoint',
    'CIFARResNet': 'use a checkpoint trained with our CIFAR configs (tools/train.py); '
    'mmpretrain ResNet_CIFAR checkpoints fit when the stage depths agree',
    'WideResNet': 'no converter exists for the FixMatch / Dash WRN checkpoints; train it with '
    'our config (tools/train.py) and use that checkpoint',
}


def is_pretrained(init_cfg: Union[dict, List[dict], None]) -> bool:
    """Whether ``init_cfg`` (a dict or a list of dicts) holds a ``Pretrained`` entry."""
    return bool(_pretrained_cfgs(init_cfg))


def _pretrained_cfgs(init_cfg: Union[dict, List[dict], None]) -> List[dict]:
    cfgs = init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg]
    return [
        c for c in cfgs
        if isinstance(c, Mapping) and c.get('type') in ('Pretrained', PretrainedInit)
    ]


def _read_state_dict(cfg: Mapping) -> 'OrderedDict[str, torch.Tensor]':
    """The tensors of ``cfg['checkpoint']`` under ``cfg['prefix']`` (prefix stripped).

    Unwraps ``{'state_dict': ...}`` (mmengine) and ``{'model': ...}`` (DeiT-style) files and the
    ``module.`` prefix that DataParallel / DDP leave.
    """
    ckpt = CheckpointLoader.load_checkpoint(cfg['checkpoint'],
                                            map_location=cfg.get('map_location', 'cpu'))
    for key in ('state_dict', 'model'):
        if isinstance(ckpt, Mapping) and isinstance(ckpt.get(key), Mapping):
            ckpt = ckpt[key]
            break
    if not isinstance(ckpt, Mapping):
        raise TypeError(f'checkpoint {cfg["checkpoint"]} holds a {type(ckpt).__name__}, '
                        'not a state dict')
    state = OrderedDict(
        (k[len('module.'):] if k.startswith('module.') else k, v) for k, v in ckpt.items()
        if isinstance(v, torch.Tensor))
    prefix = cfg.get('prefix') or ''
    return OrderedDict((k[len(prefix):], v) for k, v in state.items() if k.startswith(prefix))


def _converter_hint(backbone: nn.Module) -> str:
    for cls in type(backbone).__mro__:  # a user subclass inherits its parent's converter
        if cls.__name__ in OFFICIAL_CONVERTERS:
            name = OFFICIAL_CONVERTERS[cls.__name__]
            return (f'An official {cls.__name__} checkpoint must be converted first: '
                    f'`python tools/model_converters/{name}_to_mmext.py SRC DST`, then use '
                    f"init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='backbone.')")
        if cls.__name__ in NO_CONVERTER:
            return f'For {cls.__name__}, {NO_CONVERTER[cls.__name__]}.'
    return 'Use a checkpoint of this backbone written by mmext.'


def check_pretrained_fits(backbone: nn.Module, state_dict: Mapping[str, torch.Tensor],
                          cfg: Mapping, min_ratio: float) -> None:
    """Raise unless ``state_dict`` has ``min_ratio`` of ``backbone``'s tensors with their
    shapes, and ``min_ratio`` of its own tensors are used.

    Both sides matter: a checkpoint of another model matches few of our keys, and one of a
    deeper variant of the same model matches all of them while leaving its extra blocks unused.
    """
    own = backbone.state_dict()
    fit = [k for k, v in own.items() if k in state_dict and state_dict[k].shape == v.shape]
    if len(fit) >= min_ratio * len(own) and len(fit) >= min_ratio * len(state_dict):
        return
    name = type(backbone).__name__
    prefix = cfg.get('prefix')
    missing = [k for k in own if k not in fit][:3]
    unused = [k for k in state_dict if k not in fit][:3]
    hint = ''
    if not prefix and any(k.startswith('backbone.') for k in state_dict):
        hint = "Its keys start with 'backbone.': add prefix='backbone.' to the init_cfg. "
    raise ValueError(
        f'{name}: init_cfg Pretrained checkpoint {cfg["checkpoint"]} (prefix {prefix!r}) does '
        f'not fit this backbone: {len(fit)} of its {len(own)} tensors found with their shape, '
        f'{len(fit)} of the {len(state_dict)} checkpoint tensors used (needed: '
        f'{min_ratio:.0%} of each; first missing {missing}, first unused {unused}). '
        f'{hint}{_converter_hint(backbone)}')


class PretrainedCheckMixin:
    """``init_weights`` that refuses a ``Pretrained`` checkpoint that does not fit the backbone.

    mmengine loads ``init_cfg=dict(type='Pretrained', ...)`` with ``strict=False``: a file of
    another model (an official checkpoint that was not converted, say) matches no key, is only
    logged, and the backbone silently stays random. Here the file is read first (also when the
    weights sit under ``'model'``, as DeiT-style files keep them); unless it holds
    ``min_pretrained_ratio`` of the backbone's tensors with their shapes, and that share of
    its own tensors is used, ``init_weights`` raises an error naming the converter to run.
    Otherwise the other ``init_cfg`` entries and the submodules are initialised as usual and
    the checkpoint is loaded last (non-strict, so e.g. extra ``out_indices`` norms of a
    detection backbone may stay initialised).

    Put it first in the class bases of an ``mmengine`` ``BaseModule`` backbone.
    """
    # "nearly all": a detection backbone with more ``out_indices`` than the classifier whose
    # checkpoint it loads misses a few output norms (6 of DilateFormer-T's 216 tensors)
    min_pretrained_ratio: float = 0.9

    def init_weights(self) -> None:
        pretrained = _pretrained_cfgs(self.init_cfg)
        if not pretrained or self.is_init:
            return super().init_weights()
        cfg = pretrained[-1]
        state_dict = _read_state_dict(cfg)
        check_pretrained_fits(self, state_dict, cfg, self.min_pretrained_ratio)
        init_cfg = self.init_cfg
        others = [c for c in (init_cfg if isinstance(init_cfg, list) else [init_cfg])
                  if all(c is not p for p in pretrained)]
        self.init_cfg = others or None
        try:
            super().init_weights()
        finally:
            # subclasses' init_weights skip their own random init when they see 'Pretrained'
            self.init_cfg = init_cfg
        print_log(f'load {cfg.get("prefix") or "all keys"} of {type(self).__name__} from: '
                  f'{cfg["checkpoint"]}', logger='current')
        load_state_dict(self, state_dict, strict=False, logger='current')
