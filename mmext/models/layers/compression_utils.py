"""Pieces shared by the compression methods (ReSTE, LSQ/LTS, LBC, GaP).

* :class:`CompressedLayerMixin`: the common ``forward`` of a compressed ``nn.Conv2d`` /
  ``nn.Linear`` and the small interface (``compressed_weight``, ``export_weight``,
  ``compression_info``) that the report / export tools read.
* :func:`match_layers` and :func:`replace_layers`: find ``nn.Conv2d`` / ``nn.Linear`` by module-name
  regular expressions and swap them for compressed layers (weights copied).
* ``mmext.CompressedModel``: a model builder that builds any host model and swaps its layers by
  name pattern at build time, for backbones without a ``conv_cfg`` hook (and for layers that must
  stay full precision, e.g. the stem and the classifier of binary / quantized ResNets).
* Conformance checks (:func:`nm_violations`, :func:`binary_violations`,
  :func:`grid_violations`), :func:`layer_report` and :func:`export_state_dict`, the cores of
  ``tools/analysis/compression_report.py`` and ``tools/model_converters/export_compressed.py``.
* ``mmext.CIFARResNet``: mmpretrain's CIFAR ResNet with free block counts, for the ResNet-20
  baselines of the ReSTE and LTS papers.
"""
import re
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmpretrain.models.backbones.resnet import BasicBlock
from mmpretrain.models.backbones.resnet_cifar import ResNet_CIFAR

from mmext.registry import MODELS
from .backbone_utils import PretrainedCheckMixin

__all__ = [
    'CompressedLayerMixin', 'match_layers', 'replace_layers', 'CompressedModel',
    'nm_violations', 'binary_violations', 'grid_violations', 'group_along_input',
    'check_bits', 'layer_macs', 'unwrap_model', 'compressed_layers', 'CIFARResNet',
    'build_from_config', 'layer_report', 'export_state_dict', 'plain_model_cfg', 'config_hook'
]

_LAYER_TYPES = (nn.Conv2d, nn.Linear)


def check_bits(bits: int, key: str) -> int:
    """Refuse a bit-width outside 1..8 with a message naming the config key."""
    if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 8:
        raise ValueError(f'"{key}" must be an int in [1, 8], got {bits!r}')
    return bits


def group_along_input(weight: Tensor, m: int) -> Tensor:
    """Reshape a conv / linear weight into groups of ``m`` consecutive input-channel weights.

    A conv weight ``(O, I, kh, kw)`` is viewed as ``(O, kh, kw, I)`` (the order in which N:M sparse
    tensor cores read it) so each group holds ``m`` consecutive input channels at one kernel
    position; a linear weight ``(O, I)`` is grouped along ``I``.

    Returns:
        Tensor: ``(num_groups, m)``.
    """
    if weight.dim() == 4:
        # (O, I, kh, kw) -> (O, kh, kw, I)
        weight = weight.permute(0, 2, 3, 1)
    if weight.shape[-1] % m != 0:
        raise ValueError(f'the input dim {weight.shape[-1]} of a weight of shape '
                         f'{tuple(weight.shape)} is not divisible by M={m}')
    return weight.reshape(-1, m)


def ungroup_along_input(groups: Tensor, shape: torch.Size) -> Tensor:
    """Inverse of :func:`group_along_input` for a weight of ``shape``."""
    if len(shape) == 4:
        o, i, kh, kw = shape
        return groups.reshape(o, kh, kw, i).permute(0, 3, 1, 2)
    return groups.reshape(shape)


def nm_violations(weight: Tensor, n: int, m: int) -> int:
    """Number of M-groups (along the input dim) holding more than N non-zeros."""
    nnz = (group_along_input(weight.detach(), m) != 0).sum(dim=1)
    return int((nnz > n).sum())


def binary_violations(weight: Tensor) -> int:
    """Number of output channels whose weights take more than two distinct values."""
    w = weight.detach().reshape(weight.shape[0], -1)
    return int(sum(torch.unique(row).numel() > 2 for row in w))


def grid_violations(weight: Tensor, step: Tensor, qmin: int, qmax: int,
                    tol: float = 1e-4) -> int:
    """Number of weights off the grid ``{qmin, ..., qmax} * step`` (``step`` broadcastable)."""
    v = weight.detach() / step
    off = (v - v.round()).abs() > tol
    out = (v.round() < qmin) | (v.round() > qmax)
    return int((off | out).sum())


def layer_macs(layer: nn.Module, out: Tensor) -> int:
    """Multiply-accumulates of one sample through ``layer`` given its output ``out``."""
    per_out = layer.weight[0].numel()  # (I / groups) * kh * kw, or I for linear
    return int(out[0].numel() * per_out) if out.dim() > 1 else int(out.numel() * per_out)


class CompressedLayerMixin:
    """Common forward and reporting interface of compressed conv / linear layers.

    A subclass mixes this in before ``nn.Conv2d`` or ``nn.Linear`` and overrides
    :meth:`compressed_weight` (the weight the forward uses, with gradients to the latent
    parameters), optionally :meth:`transform_input` (activation binarization / quantization) and
    :meth:`compression_info`. :meth:`export_weight` is the inference-time weight the export tool
    writes into a plain checkpoint.
    """

    def transform_input(self, x: Tensor) -> Tensor:
        return x

    def compressed_weight(self) -> Tensor:
        return self.weight

    @torch.no_grad()
    def export_weight(self) -> Tensor:
        return self.compressed_weight().detach().clone()

    def compression_info(self) -> Dict:
        return {}

    def forward(self, x: Tensor) -> Tensor:
        x = self.transform_input(x)
        weight = self.compressed_weight()
        if isinstance(self, nn.Conv2d):
            out = self._conv_forward(x, weight, self.bias)
        else:
            out = F.linear(x, weight, self.bias)
        # MACs of one sample, read by LTSHook to estimate the backward FLOPs it saves.
        self.macs = layer_macs(self, out)
        return out


def unwrap_model(model: nn.Module) -> nn.Module:
    """The model inside a DDP / FSDP wrapper (hooks read ``runner.model``)."""
    from mmengine.model import is_model_wrapper
    return model.module if is_model_wrapper(model) else model


def compressed_layers(model: nn.Module, cls: type = None) -> Dict[str, nn.Module]:
    """Named compressed layers of ``model`` (instances of ``cls``, default every kind)."""
    cls = cls or CompressedLayerMixin
    return {n: m for n, m in unwrap_model(model).named_modules() if isinstance(m, cls)}


def _compile(patterns: Union[str, Sequence[str]], key: str) -> List[re.Pattern]:
    if isinstance(patterns, str):
        patterns = [patterns]
    if not patterns:
        raise ValueError(f'"{key}" must name at least one layer name pattern')
    compiled = []
    for p in patterns:
        try:
            compiled.append(re.compile(p))
        except re.error as e:
            raise ValueError(f'"{key}": invalid regular expression {p!r}: {e}') from e
    return compiled


def match_layers(model: nn.Module,
                 patterns: Union[str, Sequence[str]],
                 types: Tuple[type, ...] = _LAYER_TYPES,
                 key: str = 'pattern') -> Dict[str, nn.Module]:
    """Modules of ``types`` whose full name matches (``re.fullmatch``) one of ``patterns``.

    Args:
        model (nn.Module): The model to search.
        patterns (str | list[str]): Regular expressions on module names such as
            ``r'backbone\\.layer\\d\\.\\d+\\.conv[12]'``.
        types (tuple[type]): Module classes to consider. Defaults to conv and linear.
        key (str): Config key named in the error message. Defaults to ``'pattern'``.

    Raises:
        ValueError: If a pattern matches no module of ``types``, listing the candidates.
    """
    compiled = _compile(patterns, key)
    candidates = {n: m for n, m in model.named_modules() if isinstance(m, types)}
    found: Dict[str, nn.Module] = {}
    for p in compiled:
        hits = {n: m for n, m in candidates.items() if p.fullmatch(n)}
        if not hits:
            names = ', '.join(list(candidates)[:12])
            raise ValueError(f'"{key}": the layer name pattern {p.pattern!r} matches no '
                             f'{"/".join(t.__name__ for t in types)} layer; candidates are: '
                             f'{names}{", ..." if len(candidates) > 12 else ""}')
        found.update(hits)
    return found


def _new_layer(old: nn.Module, layer_cfg: Dict) -> nn.Module:
    cfg = dict(layer_cfg)
    if isinstance(old, nn.Conv2d):
        cfg.update(
            in_channels=old.in_channels, out_channels=old.out_channels,
            kernel_size=old.kernel_size, stride=old.stride, padding=old.padding,
            dilation=old.dilation, groups=old.groups, bias=old.bias is not None,
            padding_mode=old.padding_mode)
    else:
        cfg.update(in_features=old.in_features, out_features=old.out_features,
                   bias=old.bias is not None)
    base = nn.Conv2d if isinstance(old, nn.Conv2d) else nn.Linear
    cls = MODELS.get(cfg.get('type'))
    if cls is None:
        raise ValueError(f'"layer": unknown type {cfg.get("type")!r}')
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise ValueError(f'"layer" {cfg.get("type")!r} is not a {base.__name__} subclass and '
                         f'cannot replace the {base.__name__} it was matched to')
    new = MODELS.build(cfg)
    new = new.to(device=old.weight.device, dtype=old.weight.dtype)
    with torch.no_grad():
        new.weight.copy_(old.weight)
        if old.bias is not None:
            new.bias.copy_(old.bias)
    return new


def replace_layers(model: nn.Module, rules: Sequence[Dict]) -> List[str]:
    """Swap conv / linear layers of ``model`` in place according to ``rules``.

    Args:
        model (nn.Module): The host model.
        rules (list[dict]): Each ``dict(pattern=str | list[str], layer=dict(type=...))``; the
            matched layer's geometry (channels, kernel, stride, ...) and weights are kept, the
            ``layer`` dict adds the method's options (bits, N, M, ...).

    Returns:
        list[str]: Names of the replaced modules.
    """
    replaced = []
    for i, rule in enumerate(rules):
        if not isinstance(rule, dict) or 'pattern' not in rule or 'layer' not in rule:
            raise ValueError(f'"replace[{i}]" must be dict(pattern=..., layer=dict(type=...)), '
                             f'got {rule!r}')
        hits = match_layers(model, rule['pattern'], key=f'replace[{i}].pattern')
        for name, old in hits.items():
            parent_name, _, child = name.rpartition('.')
            parent = model.get_submodule(parent_name) if parent_name else model
            setattr(parent, child, _new_layer(old, rule['layer']))
            replaced.append(name)
    return replaced


@MODELS.register_module(name='CompressedModel')
def CompressedModel(model: Dict,
                    replace: Sequence[Dict],
                    data_preprocessor: Optional[Dict] = None) -> nn.Module:
    """Build a host model and swap its layers for compressed ones by name pattern.

    Used when the host backbone has no ``conv_cfg`` hook, or when only some layers are to be
    compressed (binary / quantized networks keep the stem and classifier in full precision). The
    returned object is the host model itself (same class, ``data_preprocessor`` and
    ``train_step``), so every runner, hook and tool works unchanged.

    Args:
        model (dict): Config of the host model, e.g. an mmpretrain ``ImageClassifier``.
        replace (list[dict]): Rules ``dict(pattern=..., layer=dict(type='mmext.LBCConv2d', ...))``
            applied in order; see :func:`replace_layers`. A pattern that matches nothing is an
            error at build time.
        data_preprocessor (dict, optional): Forwarded to the host model (the runner passes the
            top-level ``data_preprocessor`` here). Defaults to None.
    """
    model = dict(model)
    if data_preprocessor is not None:
        model.setdefault('data_preprocessor', data_preprocessor)
    host = MODELS.build(model)
    if not replace:
        raise ValueError('"replace" must hold at least one rule')
    replace_layers(host, replace)
    return host


@MODELS.register_module()
class CIFARResNet(PretrainedCheckMixin, ResNet_CIFAR):
    """CIFAR ResNet with free per-stage block counts (ResNet-20/32/56, arXiv:1512.03385).

    mmpretrain's ``ResNet_CIFAR`` only offers the ImageNet depths (18, 34, ...); the binary and
    quantized CIFAR baselines of ReSTE (arXiv:2308.06689) and LTS (arXiv:2211.08544) use
    ResNet-20: 3 stages of 3 basic blocks with 16/32/64 channels. The shortcut is the 1x1-conv
    "option B" of mmpretrain, not the zero-padding "option A" of the papers' code.

    Args:
        stage_blocks (tuple[int]): Basic blocks per stage. Defaults to ``(3, 3, 3)`` (ResNet-20).
        stem_channels (int): Stem output channels. Defaults to 16.
        base_channels (int): Channels of the first stage (doubled per stage). Defaults to 16.
        out_indices (tuple[int]): Stages whose output is returned. Defaults to the last.
        **kwargs: Other arguments of mmpretrain ``ResNet_CIFAR`` (``in_channels``,
            ``conv_cfg``, ``norm_cfg``, ``frozen_stages``, ``norm_eval``, ``init_cfg``, ...).
    """

    def __init__(self,
                 stage_blocks: Sequence[int] = (3, 3, 3),
                 stem_channels: int = 16,
                 base_channels: int = 16,
                 out_indices: Optional[Sequence[int]] = None,
                 **kwargs) -> None:
        if not stage_blocks or not 1 <= len(stage_blocks) <= 4 or min(stage_blocks) < 1:
            raise ValueError(f'"stage_blocks" must hold 1 to 4 positive ints, got {stage_blocks}')
        n = len(stage_blocks)
        depth = 2 * sum(stage_blocks) + 2
        # ResNet reads its block layout from ``arch_settings[depth]``: give this instance its own
        self.arch_settings = {depth: (BasicBlock, tuple(stage_blocks))}
        kwargs.setdefault('strides', (1, ) + (2, ) * (n - 1))
        kwargs.setdefault('dilations', (1, ) * n)
        super().__init__(
            depth=depth, num_stages=n, stem_channels=stem_channels,
            base_channels=base_channels,
            out_indices=tuple(out_indices) if out_indices is not None else (n - 1, ), **kwargs)


def build_from_config(config, checkpoint: Optional[str] = None) -> nn.Module:
    """Build ``config.model`` (a path or ``Config``) in its host scope and load ``checkpoint``."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner import load_checkpoint
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    model_cfg = cfg.model.copy()
    if cfg.get('data_preprocessor') is not None:
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    model = MODELS.build(model_cfg)
    if checkpoint is not None:
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    model.eval()
    return model


def _gap_targets(cfg, model: nn.Module) -> Dict[str, float]:
    """Per-layer target sparsity claimed by a ``GaPHook`` in ``cfg.custom_hooks``."""
    targets: Dict[str, float] = {}
    for hook in (cfg.get('custom_hooks') or []) if cfg is not None else []:
        if not str(hook.get('type', '')).endswith('GaPHook'):
            continue
        parts = hook['partitions']
        sp = hook.get('sparsity', 0.8)
        sp = [sp] * len(parts) if isinstance(sp, (int, float)) else sp
        for i, patterns in enumerate(parts):
            for name in match_layers(model, patterns, key=f'partitions[{i}]'):
                targets[name] = float(sp[i])
    return targets


def config_hook(cfg, name: str) -> Optional[Dict]:
    """The first entry of ``cfg.custom_hooks`` whose type ends with ``name`` (None if none)."""
    hooks = [h for h in ((cfg.get('custom_hooks') or []) if cfg is not None else [])
             if str(h.get('type', '')).endswith(name)]
    return hooks[0] if hooks else None


@torch.no_grad()
def _chex_channels(cfg, model: nn.Module) -> Dict[str, Tuple[int, int, bool]]:
    """``{producer conv: (alive, channels, consistent)}`` for a ``CHEXHook`` in ``cfg``: a
    channel counts as pruned when its BN weight and bias are zero, and the group is consistent
    when the producers' filters and the consumers' input weights are zero there too."""
    from .channel_pruning import channel_masks_from_weights, resnet_channel_groups
    hook = config_hook(cfg, 'CHEXHook')
    if hook is None:
        return {}
    groups = resnet_channel_groups(model, hook.get('prune_residual', False))
    masks = channel_masks_from_weights(model, groups)
    out = {}
    for g in groups:
        off = ~masks[g.name]
        zero = all(model.get_submodule(c).weight[off.to(model.get_submodule(c).weight.device)]
                   .abs().sum() == 0 for c, _ in g.producers) and \
            all(model.get_submodule(c).weight[:, off].abs().sum() == 0 for c in g.consumers)
        for conv, _ in g.producers:
            out[conv] = (int(masks[g.name].sum()), g.size, bool(zero))
    return out


@torch.no_grad()
def layer_report(model: nn.Module, cfg=None) -> List[Dict]:
    """One row per conv / linear layer: bit-widths, sparsity and conformance to its claim.

    Claims checked: an LBC layer is N:M sparse along the input dim; a ReSTE layer has two weight
    values per output channel; an LSQ layer's weights lie on ``{qmin..qmax} * step``; a layer in
    a ``GaPHook`` partition of ``cfg`` reaches its target sparsity; the convs whose output channels
    a ``CHEXHook`` of ``cfg`` prunes report their alive channels, and the pruned channels must be
    zero in every layer writing or reading them.
    """
    gap = _gap_targets(cfg, model)
    chex = _chex_channels(cfg, model)
    rows = []
    for name, layer in unwrap_model(model).named_modules():
        if not isinstance(layer, _LAYER_TYPES):
            continue
        info = layer.compression_info() if isinstance(layer, CompressedLayerMixin) else {}
        w = layer.export_weight() if isinstance(layer, CompressedLayerMixin) \
            else layer.weight.detach()
        row = dict(name=name, type=type(layer).__name__, method=info.get('method', '-'),
                   weight_bits=info.get('weight_bits', 32), act_bits=info.get('act_bits', 32),
                   sparsity=float((w == 0).float().mean()), check='-', ok=True)
        if 'N' in info:
            bad = nm_violations(w, info['N'], info['M'])
            row.update(check=f"{info['N']}:{info['M']} ({bad} bad groups)", ok=bad == 0)
        elif info.get('binary'):
            bad = binary_violations(w)
            row.update(check=f'binary ({bad} bad channels)', ok=bad == 0)
        elif 'step' in info:
            bad = grid_violations(w, torch.tensor(info['step']), info['qmin'], info['qmax'])
            row.update(check=f"{info['weight_bits']}-bit grid ({bad} off)", ok=bad == 0,
                       frozen=info.get('frozen', 0.0))
        if name in gap:
            target = gap[name]
            # magnitude_mask keeps exactly numel - round(target * numel) weights
            ok = row['sparsity'] + 0.5 / w.numel() >= target
            row.update(check=f'sparsity >= {target:.2f}', ok=ok)
        if name in chex:
            alive, size, zero = chex[name]
            row.update(check=f'channels {alive}/{size}', ok=zero, channels=alive)
        rows.append(row)
    return rows


@torch.no_grad()
def export_state_dict(model: nn.Module) -> Tuple[Dict[str, Tensor], Dict[str, Dict]]:
    """State dict of the plain host model with compressed weights baked in.

    Each compressed layer's ``weight`` becomes its inference-time value (mask applied, binarized
    and scaled, or quantized) and its auxiliary tensors (scores, steps, masks) are dropped, so the
    result loads strictly into the same model built with plain ``nn.Conv2d`` / ``nn.Linear``.

    Returns:
        tuple: ``(state_dict, compression_info per layer)``.
    """
    model = unwrap_model(model)
    state = model.state_dict()
    info = {}
    for name, layer in compressed_layers(model).items():
        prefix = f'{name}.'
        for key in [k for k in state if k.startswith(prefix)]:
            if key[len(prefix):] not in ('weight', 'bias'):
                del state[key]
        state[prefix + 'weight'] = layer.export_weight()
        info[name] = layer.compression_info()
    return state, info


def plain_model_cfg(model_cfg: Dict) -> Dict:
    """The host model config of a compressed one (``CompressedModel`` unwrapped, every
    ``conv_cfg`` naming an mmext layer removed)."""
    import copy
    to_dict = getattr(model_cfg, 'to_dict', None)
    cfg = copy.deepcopy(to_dict() if to_dict else dict(model_cfg))
    if str(cfg.get('type', '')).endswith('CompressedModel'):
        inner = dict(cfg['model'])
        if cfg.get('data_preprocessor') is not None:
            inner.setdefault('data_preprocessor', cfg['data_preprocessor'])
        cfg = inner

    def strip(node):
        if isinstance(node, dict):
            conv = node.get('conv_cfg')
            if isinstance(conv, dict) and str(conv.get('type', '')).startswith('mmext.'):
                node['conv_cfg'] = None
            for v in node.values():
                strip(v)
        elif isinstance(node, (list, tuple)):
            for v in node:
                strip(v)

    strip(cfg)
    return cfg
