"""MAE-DET: detection backbones found by the maximum-entropy zero-shot NAS.

Sun et al., "MAE-DET: Revisiting Maximum Entropy Principle in Zero-Shot NAS for Efficient Object
Detection", arXiv:2111.13336 (ICML 2022). The MAE-DET-S/M/L structures are transcribed from
``configs/detection/models/maedet_{s,m,l}.txt`` of the official repository
alibaba/lightweight-neural-architecture-search; published backbone sizes: 21.2M / 25.8M / 43.9M
parameters, 48.7G / 89.9G / 152.9G FLOPs (same count as ResNet-50's 23.5M / 83.6G).
"""
import ast
from copy import deepcopy
from typing import Dict, List, Optional, Sequence, Union

import torch.nn as nn
from mmcv.cnn import ConvModule
from mmpretrain.models.backbones.base_backbone import BaseBackbone

from mmext.registry import MODELS
from ..layers.backbone_utils import (PretrainedCheckMixin, StemStagesFinalConvMixin,
                                     check_stage_args)
from .zennet import ZenResUnit

__all__ = ['MAEDet', 'parse_maedet_structure']

STEM_CLASS = 'ConvKXBNRELU'
BLOCK_CLASS = 'SuperResK1KXK1'
_KEYS = {STEM_CLASS: ('in', 'out', 's', 'k'), BLOCK_CLASS: ('in', 'out', 's', 'k', 'L', 'btn')}


def _official(stem, blocks):
    """Structure list in the official format from ``(out, k)`` and ``(out, s, k, L, btn)``."""
    structure = [dict(zip(('class', 'in', 'out', 's', 'k'), (STEM_CLASS, 3, stem[0], 2, stem[1])))]
    for out, s, k, layers, btn in blocks:
        structure.append({'class': BLOCK_CLASS, 'in': structure[-1]['out'], 'out': out, 's': s,
                          'k': k, 'L': layers, 'btn': btn})
    return structure


def parse_maedet_structure(arch: Union[str, Sequence[dict]], key: str = 'arch') -> List[dict]:
    """Check a MAE-DET structure and return it as a list of block dicts (a copy).

    Args:
        arch (str | Sequence[dict]): The official format: a list of ``{'class': 'ConvKXBNRELU',
            'in', 'out', 's', 'k'}`` (the stem, first) and ``{'class': 'SuperResK1KXK1', 'in',
            'out', 's', 'k', 'L', 'btn'}`` dicts, or its text: the list, or the content of an
            official ``maedet_*.txt`` file (``{'best_structures': [[...]], ...}``).
        key (str): Config key of ``arch``, for the error messages. Defaults to ``'arch'``.

    Returns:
        List[dict]: The blocks; ``'in'`` of the stem is the input channel count.

    Raises:
        ValueError: Naming the block and key that is missing, unknown or out of range.
    """
    if isinstance(arch, str):
        try:
            arch = ast.literal_eval(arch.strip())
        except (ValueError, SyntaxError) as e:
            raise ValueError(f'"{key}" is not a MAE-DET structure literal ({e}): '
                             f'{arch[:80]!r}') from None
    if isinstance(arch, dict) and 'best_structures' in arch:
        arch = arch['best_structures'][0]
    if not isinstance(arch, (list, tuple)) or len(arch) < 2:
        raise ValueError(f'"{key}" must be a list of a {STEM_CLASS} stem and at least one '
                         f'{BLOCK_CLASS} block, got {arch!r}')
    structure = []
    for i, block in enumerate(arch):
        where = f'"{key}[{i}]"'

        def field(k, i=i):
            return f'"{key}[{i}]["{k}"]"'
        if not isinstance(block, dict):
            raise ValueError(f'{where} must be a dict, got {block!r}')
        cls = block.get('class')
        expected = STEM_CLASS if i == 0 else BLOCK_CLASS
        if cls != expected:
            raise ValueError(f'{field("class")} must be {expected!r} (the stem first, then '
                             f'{BLOCK_CLASS} blocks), got {cls!r}')
        missing = [k for k in _KEYS[cls] if k not in block]
        if missing:
            raise ValueError(f'{where} ({cls}) misses keys {missing}; needs {list(_KEYS[cls])}')
        unknown = sorted(set(block) - set(_KEYS[cls]) - {'class'})
        if unknown:
            raise ValueError(f'{where} ({cls}) has unknown keys {unknown}; known: '
                             f'{list(_KEYS[cls])}')
        for k in _KEYS[cls]:
            if not isinstance(block[k], int) or block[k] < 1:
                raise ValueError(f'{field(k)} must be a positive int, got {block[k]!r}')
        if block['s'] not in (1, 2):
            raise ValueError(f'{field("s")} (stride) must be 1 or 2, got {block["s"]}')
        if block['k'] % 2 == 0:
            raise ValueError(f'{field("k")} (kernel size) must be odd, got {block["k"]}')
        if i > 0 and block['in'] != structure[-1]['out']:
            raise ValueError(f'{field("in")} must equal the previous block\'s "out" '
                             f'{structure[-1]["out"]}, got {block["in"]}')
        structure.append(deepcopy(dict(block)))
    return structure


@MODELS.register_module()
class MAEDet(PretrainedCheckMixin, StemStagesFinalConvMixin, BaseBackbone):
    """MAE-DET backbone.

    From "MAE-DET: Revisiting Maximum Entropy Principle in Zero-Shot NAS for Efficient Object
    Detection" (Sun et al., arXiv:2111.13336). MAE-DET searches, under a FLOPs / layers budget,
    for the backbone whose multi-scale feature maps have the largest differential entropy under
    Gaussian weights and inputs (``tools/analysis/maedet_score.py``). The network is a KxK conv
    stem and super-blocks of ``L`` bottleneck units (1x1 - KxK - 1x1, see
    :class:`mmext.models.backbones.zennet.ZenResUnit` with ``depthwise=False``); the first unit
    of a super-block has the stride and a projection shortcut (2x2 average pooling, then a 1x1
    conv + BN).

    Args:
        arch (str | list[dict]): ``'s'``, ``'m'``, ``'l'`` (aliases ``'maedet-s'`` ...), or a
            structure in the official format (list of block dicts, or its text; see
            :func:`parse_maedet_structure`). Defaults to ``'s'``.
        in_channels (int): Input image channels; must equal the stem's ``'in'`` of a custom
            structure. Defaults to 3.
        out_indices (Sequence[int] | int): Outputs: ``i`` is super-block ``i``'s map (the stem
            is not an output). Defaults to ``(0, 1, 2, 3)``, the C2-C5 maps of the official
            detectors (``out_indices=(1, 2, 3, 4)`` there, counting the stem).
        frozen_stages (int): Freeze the stem (0) and the first ``frozen_stages`` super-blocks;
            -1 freezes nothing. Defaults to -1.
        norm_eval (bool): Keep BN layers in eval mode while training. Defaults to False.
        norm_cfg (dict): Norm config. Defaults to ``dict(type='BN')`` (PyTorch's BatchNorm2d
            defaults, as the official models; the detectors train with SyncBN).
        init_cfg (dict | list[dict], optional): Initialization config. Defaults to Kaiming for
            convs and constant 1 for norms, as the official ``MadNas`` wrapper.
    """

    arch_settings = {
        **dict.fromkeys(['s', 'maedet-s'], _official(
            (32, 3), [(48, 2, 5, 2, 32), (272, 2, 3, 4, 120), (1024, 2, 5, 10, 80),
                      (2048, 2, 3, 10, 240)])),
        **dict.fromkeys(['m', 'maedet-m'], _official(
            (64, 3), [(120, 2, 3, 2, 64), (512, 2, 5, 10, 72), (1632, 2, 5, 10, 112),
                      (2048, 2, 5, 8, 184)])),
        **dict.fromkeys(['l', 'maedet-l'], _official(
            (80, 3), [(144, 2, 3, 2, 80), (608, 2, 5, 12, 88), (1912, 2, 5, 12, 136),
                      (2400, 2, 5, 10, 220)])),
    }

    def __init__(self,
                 arch: Union[str, Sequence[dict]] = 's',
                 in_channels: int = 3,
                 out_indices: Union[Sequence[int], int] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 norm_cfg: Dict = dict(type='BN'),
                 init_cfg: Optional[Union[Dict, List[Dict]]] = [
                     dict(type='Kaiming', layer='Conv2d'),
                     dict(type='Constant', val=1, layer=['_BatchNorm'])
                 ]) -> None:
        super().__init__(init_cfg)
        if isinstance(arch, str) and arch.lower() in self.arch_settings:
            structure = deepcopy(self.arch_settings[arch.lower()])
        elif isinstance(arch, str) and not arch.lstrip().startswith(('[', '{')):
            raise ValueError(f'"arch" must be one of {sorted(self.arch_settings)} or a MAE-DET '
                             f'structure (list of block dicts or its text), got {arch!r}')
        else:
            structure = parse_maedet_structure(arch)
        if structure[0]['in'] != in_channels:
            raise ValueError(f'"arch[0]["in"]" ({structure[0]["in"]}) must equal '
                             f'"in_channels" ({in_channels})')
        self.structure = structure
        self.num_outputs = len(structure) - 1
        self.out_indices = check_stage_args(out_indices, frozen_stages, self.num_outputs)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval

        stem = structure[0]
        self.stem = ConvModule(in_channels, stem['out'], stem['k'], stem['s'], stem['k'] // 2,
                               bias=False, norm_cfg=norm_cfg)
        self.stages = nn.ModuleList()
        self.out_channels = []
        for block in structure[1:]:
            units = [
                ZenResUnit(block['in'] if i == 0 else block['out'], block['out'], block['btn'],
                           block['k'], block['s'] if i == 0 else 1, force_proj=i == 0,
                           depthwise=False, avg_down=True, proj_bias=False, norm_cfg=norm_cfg)
                for i in range(block['L'])
            ]
            self.stages.append(nn.Sequential(*units))
            self.out_channels.append(block['out'])
        self.final_conv = None
        self._freeze_stages()
