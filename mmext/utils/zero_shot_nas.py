"""Pieces shared by the zero-shot NAS tools (Zen-score, MAE-DET entropy score, the search).

Zen-NAS ("Zen-NAS: A Zero-Shot NAS for High-Performance Deep Image Recognition",
arXiv:2102.01063) and MAE-DET ("MAE-DET: Revisiting Maximum Entropy Principle in Zero-Shot NAS
for Efficient Object Detection", arXiv:2111.13336) both score a randomly initialised *plain*
network (residual links removed) under Gaussian weights and Gaussian inputs. This module holds
the Gaussian initialisation, the plain-network conversion, the list of sequential units of a
backbone (where MAE-DET reads its per-stage entropies), building a config's backbone and
counting a backbone's parameters and FLOPs.
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = [
    'gaussian_init_', 'plain_network', 'backbone_units', 'last_output', 'build_backbone',
    'backbone_complexity', 'scoring_setup', 'score_arg_parser'
]


def gaussian_init_(model: nn.Module,
                   std: float = 1.0,
                   generator: Optional[torch.Generator] = None) -> None:
    """Zero-shot NAS initialisation: N(0, std^2) weights, zero biases, identity norm layers.

    Args:
        model (nn.Module): The network; its weights are overwritten.
        std (float): Standard deviation of conv / linear weights. Defaults to 1.0 (Zen-NAS,
            MAE-DET's ``init_std``).
        generator (torch.Generator, optional): Random source of the weights; None: torch's
            global one. Defaults to None.
    """
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)):
                nn.init.normal_(m.weight, std=std, generator=generator)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (_BatchNorm, nn.GroupNorm, nn.LayerNorm)):
                if m.weight is not None:
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)


def _resnet_branch(block: nn.Module) -> nn.Sequential:
    """The residual branch of an mmdet / mmpretrain ``BasicBlock`` or ``Bottleneck``."""
    convs = ['conv1', 'conv2'] + (['conv3'] if hasattr(block, 'conv3') else [])
    layers = []
    for i, name in enumerate(convs, 1):
        layers += [getattr(block, name), getattr(block, f'norm{i}'), block.relu]
    return nn.Sequential(*layers)


def plain_network(model: nn.Module) -> int:
    """Strip residual links and squeeze-excitation in place, as the zero-shot searches score.

    Each :class:`mmext.ZenResUnit` (ZenNet, MAE-DET) and :class:`mmext.GEResLayer` becomes its
    branch followed by its activation, each ZenNet SE gate an identity, and each ResNet
    ``BasicBlock`` / ``Bottleneck`` (mmdet, mmpretrain) its conv - norm - ReLU chain.

    Args:
        model (nn.Module): The network, changed in place.

    Returns:
        int: The number of residual units stripped (0: nothing known to strip).
    """
    from mmext.models.backbones.genet import GEResLayer
    from mmext.models.backbones.zennet import ZenResUnit, _SqueezeExcite
    resnet_blocks = []
    for module in ('mmdet.models.backbones.resnet', 'mmpretrain.models.backbones.resnet'):
        try:
            mod = __import__(module, fromlist=['BasicBlock', 'Bottleneck'])
            resnet_blocks += [mod.BasicBlock, mod.Bottleneck]
        except ImportError:
            pass
    stripped = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, (ZenResUnit, GEResLayer)):
                setattr(parent, name, nn.Sequential(child.branch, child.act))
                stripped += 1
            elif isinstance(child, _SqueezeExcite):
                setattr(parent, name, nn.Identity())
            elif resnet_blocks and isinstance(child, tuple(resnet_blocks)):
                setattr(parent, name, _resnet_branch(child))
                stripped += 1
    return stripped


def backbone_units(model: nn.Module) -> List[nn.Module]:
    """The modules a backbone runs one after the other (stem, units of every stage, final conv).

    MAE-DET reads its stages from these: a stage ends at the unit before a downsampling one.
    Known layouts: ``stem`` / ``stages`` / ``final_conv`` (ZenNet, GENet, MAE-DET) and ResNet
    (``conv1`` or ``stem``, then the ``res_layers``).

    Args:
        model (nn.Module): The backbone (plain or as built).

    Returns:
        List[nn.Module]: The units, in forward order.

    Raises:
        ValueError: For a backbone of another layout.
    """
    units = []
    if hasattr(model, 'stages') and hasattr(model, 'stem'):
        units.append(model.stem)
        for stage in model.stages:
            units += list(stage) if isinstance(stage, nn.Sequential) else [stage]
        if getattr(model, 'final_conv', None) is not None:
            units.append(model.final_conv)
    elif hasattr(model, 'res_layers'):
        units.append(model.stem if getattr(model, 'deep_stem', False) else model.conv1)
        if getattr(model, 'maxpool', None) is not None:
            units.append(model.maxpool)
        for name in model.res_layers:
            units += list(getattr(model, name))
    else:
        raise ValueError(f'{type(model).__name__}: unknown backbone layout (neither stem / '
                         'stages as ZenNet, GENet, MAE-DET nor ResNet res_layers)')
    return units


def last_output(out) -> torch.Tensor:
    """The last map of a backbone output (a tensor or nested tuples of them)."""
    while isinstance(out, (tuple, list)):
        out = out[-1]
    return out


def build_backbone(cfg) -> nn.Module:
    """Build the config's ``model.backbone`` (or the model itself when it has no backbone).

    Args:
        cfg (Config): A loaded mmpretrain / mmdet / mmseg config.

    Returns:
        nn.Module: The backbone, in the config's default scope.
    """
    import mmengine.registry
    from mmengine.registry import init_default_scope
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    model_cfg = cfg.model.get('backbone', cfg.model)
    return mmengine.registry.MODELS.build(model_cfg)


def backbone_complexity(model: nn.Module, input_shape: Sequence[int]) -> Tuple[int, int]:
    """Parameters and FLOPs of one ``input_shape`` image through ``model`` (mmengine's
    ``FlopAnalyzer``, one multiply-add = one FLOP, as ``tools/analysis/get_flops.py``).

    Args:
        model (nn.Module): The backbone.
        input_shape (Sequence[int]): ``(C, H, W)``.

    Returns:
        Tuple[int, int]: ``(params, flops)``.
    """
    from mmengine.analysis import FlopAnalyzer
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            analyzer = FlopAnalyzer(model, (torch.zeros(1, *input_shape), ))
            analyzer.unsupported_ops_warnings(False)
            analyzer.uncalled_modules_warnings(False)
            flops = analyzer.total()
    finally:
        model.train(was_training)
    return sum(p.numel() for p in model.parameters()), int(flops)


def scoring_setup(cfg,
                  shape: Sequence[int],
                  in_channels: Optional[int] = None,
                  seed: int = 0,
                  as_built: bool = False) -> Tuple[nn.Module, Tuple[int, int, int],
                                                   torch.Generator, int]:
    """What the score tools do before scoring a config's backbone.

    Builds the backbone (torch seeded with ``seed``), counts its parameters as built and, unless
    ``as_built``, turns it into the plain network (warning when nothing is known to strip).

    Args:
        cfg (Config): The loaded config.
        shape (Sequence[int]): ``[H]`` or ``[H, W]`` of the input.
        in_channels (int, optional): Input channels; None: the backbone's ``in_channels`` or 3.
        seed (int): Seed of the build and of the returned generator. Defaults to 0.
        as_built (bool): Keep residual links. Defaults to False.

    Returns:
        tuple: ``(model, (C, H, W), generator, params_as_built)``.
    """
    height, width = (list(shape) * 2)[:2]
    in_channels = in_channels or cfg.model.get('backbone', cfg.model).get('in_channels', 3)
    torch.manual_seed(seed)
    model = build_backbone(cfg)
    params = sum(p.numel() for p in model.parameters())
    if not as_built and plain_network(model) == 0:
        print('warning: no residual unit known to strip in this backbone (ZenResUnit, '
              'GEResLayer, ResNet blocks are); scoring it as built')
    return model, (in_channels, height, width), torch.Generator().manual_seed(seed), params


def score_arg_parser(description: str, shape: int, batch_size: int, repeat: int):
    """The command line the score tools share: ``CONFIG [--shape H W] [--in-channels C]
    [--batch-size B] [--repeat R] [--seed S] [--as-built] [--cfg-options ...]``.

    Args:
        description (str): The tool's description.
        shape (int): Default input size.
        batch_size (int): Default batch of Gaussian images.
        repeat (int): Default number of initialisations averaged.

    Returns:
        argparse.ArgumentParser: The parser; the tool adds its own options.
    """
    import argparse
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('config', help='config file path')
    parser.add_argument('--shape', type=int, nargs='+', default=[shape, shape], help='input H W')
    parser.add_argument('--in-channels', type=int, default=None,
                        help='input channels (default: backbone in_channels or 3)')
    parser.add_argument('--batch-size', type=int, default=batch_size)
    parser.add_argument('--repeat', type=int, default=repeat)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--as-built', action='store_true',
                        help='score the network as built (default: the plain network of the '
                        'official searches, residual links and SE removed)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value pairs')
    return parser
