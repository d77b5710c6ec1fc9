"""Structured channel pruning of ResNets: channel groups, channel masks and real slicing.

Shared by channel-pruning methods (CHEX, arXiv:2203.15794). A *channel group* is a set of
feature-map channels that must be kept or removed together: the output channels of its
*producers* (a conv and the BatchNorm after it) and the matching input channels of its
*consumers* (the convs / the classifier reading them). A mask zeroes the producers' filters and
BN affine parameters, so a pruned channel is identically zero and removing it changes nothing:
:func:`prune_channels` then slices every conv / BN / linear into a really smaller network, and
``mmext.ChannelPrunedModel`` rebuilds that smaller network from a config for testing, FLOPs
counting and benchmarking.

* :func:`resnet_channel_groups`: the groups of an mmpretrain ResNet (``ResNet``,
  ``ResNet_CIFAR``, ``mmext.CIFARResNet``; basic or bottleneck blocks). By default the channels
  inside each block (after ``conv1``, and after ``conv2`` in a bottleneck), as the official CHEX
  code prunes them; with ``residual=True`` also each residual stream (stem / downsample / last
  conv of every block writing into it, and every block / the classifier reading it), so the
  residual additions stay consistent.
* :func:`apply_channel_masks`, :func:`channel_masks_from_weights`, :func:`prune_channels`,
  :func:`resize_layers`.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

from mmext.registry import MODELS

__all__ = [
    'ChannelGroup', 'resnet_channel_groups', 'apply_channel_masks', 'channel_masks_from_weights',
    'prune_channels', 'resize_layers', 'ChannelPrunedModel', 'group_weight_matrix'
]


@dataclass
class ChannelGroup:
    """Channels kept or removed together.

    Args:
        name (str): The group's name (its first producer conv's module name).
        producers (list[tuple[str, str]]): ``(conv name, BN name)`` pairs writing the channels.
        consumers (list[str]): Conv / linear module names whose input dim holds the channels.
        size (int): Number of channels.
    """
    name: str
    producers: List[Tuple[str, str]]
    consumers: List[str] = field(default_factory=list)
    size: int = 0


def _resnet_blocks():
    from mmpretrain.models.backbones.resnet import BasicBlock, Bottleneck
    return BasicBlock, Bottleneck


def _last(module: nn.Module, types) -> nn.Module:
    found = [m for m in module.modules() if isinstance(m, types)]
    if not found:
        raise ValueError(f'no {types} in {type(module).__name__}')
    return found[-1]


def resnet_channel_groups(model: nn.Module, residual: bool = False,
                          key: str = 'prune_residual') -> List[ChannelGroup]:
    """Channel groups of a classifier (or bare backbone) built on an mmpretrain ResNet.

    Args:
        model (nn.Module): An ``ImageClassifier`` with a ResNet backbone, or the backbone.
        residual (bool): Also prune the residual streams (needs a classifier whose head reads
            the last stage through global average pooling). Defaults to False.
        key (str): Config key named in error messages. Defaults to ``'prune_residual'``.

    Returns:
        list[ChannelGroup]: In network order.
    """
    basic, bottleneck = _resnet_blocks()
    backbone = getattr(model, 'backbone', model)
    names = {id(m): n for n, m in model.named_modules()}
    blocks = [m for m in backbone.modules() if isinstance(m, (basic, bottleneck))]
    if not blocks or not hasattr(backbone, 'res_layers'):
        raise ValueError(f'channel pruning supports mmpretrain ResNet backbones (BasicBlock / '
                         f'Bottleneck), got {type(backbone).__name__}')

    def convs_norms(block):
        n = 2 if isinstance(block, basic) else 3
        convs = [getattr(block, f'conv{i}') for i in range(1, n + 1)]
        norms = [getattr(block, f'norm{i}') for i in range(1, n + 1)]
        for c in convs:
            if type(c) is not nn.Conv2d or c.groups != 1:
                raise ValueError(f'channel pruning needs plain ungrouped nn.Conv2d layers; '
                                 f'{names[id(c)]} is a {type(c).__name__} with groups='
                                 f'{getattr(c, "groups", "?")}')
        return convs, norms

    groups: List[ChannelGroup] = []
    for block in blocks:
        convs, norms = convs_norms(block)
        for conv, norm, nxt in zip(convs[:-1], norms[:-1], convs[1:]):
            groups.append(ChannelGroup(names[id(conv)], [(names[id(conv)], names[id(norm)])],
                                       [names[id(nxt)]], conv.out_channels))
    if not residual:
        return groups

    if getattr(backbone, 'deep_stem', False) or not hasattr(backbone, 'conv1'):
        raise ValueError(f'"{key}": residual pruning needs the plain conv1 / norm1 stem')
    last_stage = len(backbone.res_layers) - 1
    if tuple(getattr(backbone, 'out_indices', (last_stage, ))) != (last_stage, ):
        raise ValueError(f'"{key}": residual pruning needs a backbone returning only its last '
                         f'stage, got out_indices={backbone.out_indices}')
    fc = getattr(getattr(model, 'head', None), 'fc', None)
    neck = getattr(model, 'neck', None)
    if not isinstance(fc, nn.Linear) or type(neck).__name__ != 'GlobalAveragePooling':
        raise ValueError(f'"{key}": residual pruning needs a classifier with a '
                         f'GlobalAveragePooling neck and a linear head (head.fc)')
    stem = ChannelGroup(names[id(backbone.conv1)],
                        [(names[id(backbone.conv1)], names[id(backbone.norm1)])],
                        size=backbone.conv1.out_channels)
    streams = [stem]
    for block in blocks:
        convs, norms = convs_norms(block)
        down = block.downsample
        streams[-1].consumers.append(names[id(convs[0])])
        if down is not None:
            dconv, dnorm = _last(down, nn.Conv2d), _last(down, _BatchNorm)
            streams[-1].consumers.append(names[id(dconv)])
            streams.append(ChannelGroup(names[id(dconv)], [(names[id(dconv)], names[id(dnorm)])],
                                        size=dconv.out_channels))
        streams[-1].producers.append((names[id(convs[-1])], names[id(norms[-1])]))
    streams[-1].consumers.append(names[id(fc)])
    return groups + streams


def group_weight_matrix(model: nn.Module, group: ChannelGroup) -> Tensor:
    """The producers' filters of ``group`` as the columns of one ``(d, C)`` matrix."""
    rows = [model.get_submodule(conv).weight.detach().flatten(1)
            for conv, _ in group.producers]
    # (C, d_1), (C, d_2), ... -> (d, C)
    return torch.cat(rows, dim=1).t()


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def apply_channel_masks(model: nn.Module, groups: Sequence[ChannelGroup],
                        masks: Dict[str, Tensor]) -> None:
    """Zero the pruned channels of every group: the producers' filters, biases and BN affine
    parameters (so the channel's output is exactly 0) and the consumers' input weights."""
    for g in groups:
        off = ~masks[g.name].to(device=_device(model), dtype=torch.bool)
        for conv_name, bn_name in g.producers:
            conv, bn = model.get_submodule(conv_name), model.get_submodule(bn_name)
            conv.weight[off] = 0
            if conv.bias is not None:
                conv.bias[off] = 0
            bn.weight[off] = 0
            bn.bias[off] = 0
        for name in g.consumers:
            model.get_submodule(name).weight[:, off] = 0


@torch.no_grad()
def channel_masks_from_weights(model: nn.Module,
                               groups: Sequence[ChannelGroup]) -> Dict[str, Tensor]:
    """Masks of the channels whose output is not identically zero: a channel is pruned when
    every producer's BN weight and bias are zero there (its output is then 0 whatever the
    input), so slicing it away is exact."""
    masks = {}
    for g in groups:
        alive = torch.zeros(g.size, dtype=torch.bool)
        for _, bn_name in g.producers:
            bn = model.get_submodule(bn_name)
            alive |= (bn.weight.detach() != 0).cpu() | (bn.bias.detach() != 0).cpu()
        masks[g.name] = alive
    return masks


def _sliced(module: nn.Module, in_keep: Optional[Tensor], out_keep: Optional[Tensor],
            copy: bool = True) -> nn.Module:
    """A new conv / BN / linear holding only the ``in_keep`` inputs and ``out_keep`` outputs."""
    w = module.weight
    if isinstance(module, nn.Conv2d):
        in_keep = torch.arange(module.in_channels) if in_keep is None else in_keep
        out_keep = torch.arange(module.out_channels) if out_keep is None else out_keep
        new = nn.Conv2d(len(in_keep), len(out_keep), module.kernel_size, module.stride,
                        module.padding, module.dilation, 1, module.bias is not None,
                        module.padding_mode)
    elif isinstance(module, nn.Linear):
        in_keep = torch.arange(module.in_features) if in_keep is None else in_keep
        out_keep = torch.arange(module.out_features) if out_keep is None else out_keep
        new = nn.Linear(len(in_keep), len(out_keep), module.bias is not None)
    elif isinstance(module, _BatchNorm):
        out_keep = torch.arange(module.num_features) if out_keep is None else out_keep
        new = type(module)(len(out_keep), eps=module.eps, momentum=module.momentum,
                           affine=module.affine,
                           track_running_stats=module.track_running_stats)
    else:
        raise ValueError(f'cannot slice a {type(module).__name__}')
    new = new.to(device=w.device, dtype=w.dtype)
    if not copy:
        return new
    with torch.no_grad():
        if isinstance(module, _BatchNorm):
            for name in ('weight', 'bias', 'running_mean', 'running_var'):
                src = getattr(module, name)
                if src is not None:
                    getattr(new, name).copy_(src[out_keep])
            if module.num_batches_tracked is not None:
                new.num_batches_tracked.copy_(module.num_batches_tracked)
        else:
            new.weight.copy_(w[out_keep][:, in_keep])
            if module.bias is not None:
                new.bias.copy_(module.bias[out_keep])
    new.train(module.training)
    return new


def _replace(model: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition('.')
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, new)


def _keep_indices(groups: Sequence[ChannelGroup], masks: Dict[str, Tensor]):
    out_keep, in_keep = {}, {}
    for g in groups:
        keep = masks[g.name].to(torch.bool).cpu().nonzero().flatten()
        if keep.numel() == 0:
            raise ValueError(f'channel group {g.name!r} has no channel left')
        for conv, bn in g.producers:
            out_keep[conv] = out_keep[bn] = keep
        for name in g.consumers:
            in_keep[name] = keep
    return out_keep, in_keep


@torch.no_grad()
def prune_channels(model: nn.Module, groups: Sequence[ChannelGroup],
                   masks: Dict[str, Tensor]) -> Dict[str, Tuple[int, int]]:
    """Slice the pruned channels out of ``model`` in place (a really smaller network).

    Returns:
        dict: ``{module name: (in, out)}`` of every resized conv / BN / linear (a BN's in and out
        are both its channel count), the ``channels`` argument of ``mmext.ChannelPrunedModel``.
    """
    out_keep, in_keep = _keep_indices(groups, masks)
    spec = {}
    for name in sorted(set(out_keep) | set(in_keep)):
        new = _sliced(model.get_submodule(name), in_keep.get(name), out_keep.get(name))
        _replace(model, name, new)
        spec[name] = _channels(new)
    return spec


def _channels(module: nn.Module) -> Tuple[int, int]:
    if isinstance(module, nn.Conv2d):
        return module.in_channels, module.out_channels
    if isinstance(module, nn.Linear):
        return module.in_features, module.out_features
    return module.num_features, module.num_features


def resize_layers(model: nn.Module, channels: Dict[str, Sequence[int]],
                  key: str = 'channels') -> None:
    """Replace the named conv / BN / linear layers of ``model`` by freshly initialised ones with
    ``(in, out)`` channels (the shapes :func:`prune_channels` reported)."""
    for name, (c_in, c_out) in channels.items():
        try:
            old = model.get_submodule(name)
        except AttributeError:
            raise ValueError(f'"{key}": the model has no module {name!r}') from None
        old_in, old_out = _channels(old) if isinstance(
            old, (nn.Conv2d, nn.Linear, _BatchNorm)) else (None, None)
        if old_in is None or c_in > old_in or c_out > old_out or min(c_in, c_out) < 1:
            raise ValueError(f'"{key}": cannot resize {name!r} ({type(old).__name__}, '
                             f'{old_in} -> {old_out}) to {c_in} -> {c_out}')
        new = _sliced(old, torch.arange(c_in), torch.arange(c_out), copy=False)
        _replace(model, name, new)


@MODELS.register_module(name='ChannelPrunedModel')
def ChannelPrunedModel(model: Dict,
                       channels: Dict[str, Sequence[int]],
                       data_preprocessor: Optional[Dict] = None) -> nn.Module:
    """Build a host model with the channel counts of a channel-pruned export.

    ``tools/model_converters/export_compressed.py`` writes this config next to the smaller
    checkpoint of a CHEX (arXiv:2203.15794) run, so that ``tools/test.py``,
    ``tools/analysis/get_flops.py`` and ``benchmark_throughput.py`` see the real smaller network.

    Args:
        model (dict): Config of the dense host model.
        channels (dict): ``{module name: (in, out)}`` of every resized conv / BN / linear.
        data_preprocessor (dict, optional): Forwarded to the host model. Defaults to None.
    """
    model = dict(model)
    if data_preprocessor is not None:
        model.setdefault('data_preprocessor', data_preprocessor)
    host = MODELS.build(model)
    resize_layers(host, dict(channels))
    return host
