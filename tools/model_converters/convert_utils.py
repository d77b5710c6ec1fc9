"""Helpers shared by the ``<name>_to_mmext.py`` checkpoint converters.

Every converter reads a checkpoint as its authors publish it, walks its keys with a few explicit
rules and writes ``{'state_dict': ..., 'meta': ...}`` that loads with ``strict=True`` into the
``ImageClassifier`` of our config (keys ``backbone.*`` and ``head.*``). What they share lives
here: unwrapping the published file, taking each source key exactly once (so a key no rule
placed stops the script with its name), saving, and the command line.

    from convert_utils import KeyMapper, converter_main
"""
import argparse
import os
import os.path as osp
import pickle
import re
from collections import OrderedDict
from typing import Callable, Dict, Iterable, List, Optional, Sequence

import torch

# Where published files keep their weights, most specific first (EMA weights win when a
# file carries both, as the authors report their EMA numbers).
WRAPPER_KEYS = ('state_dict_ema', 'model_ema', 'model', 'state_dict', 'module')
# DeiT's main.py (reused by DilateFormer, KVT and others) saves an EMA copy beside 'model' but
# evaluates, and so reports, 'model': those converters must not prefer the EMA weights.
DEIT_WRAPPER_KEYS = ('model', 'state_dict', 'module')


class ConversionError(ValueError):
    """A checkpoint that does not have the layout a converter expects."""


def unwrap(ckpt: dict,
           wrapper_keys: Sequence[str] = WRAPPER_KEYS) -> 'OrderedDict[str, torch.Tensor]':
    """Return the tensor dict of a published checkpoint.

    Accepts a state dict itself or one nested under the first of ``wrapper_keys`` (by default
    ``state_dict_ema`` / ``model_ema`` / ``model`` / ``state_dict`` / ``module``) that the file
    has, and strips the ``module.`` prefix that DataParallel / DDP training leaves on every key.
    """
    if not isinstance(ckpt, dict):
        raise ConversionError(f'expected a dict of tensors, got {type(ckpt).__name__}')
    for key in wrapper_keys:
        if isinstance(ckpt.get(key), dict) and ckpt[key]:
            ckpt = ckpt[key]
            break
    tensors = OrderedDict((k, v) for k, v in ckpt.items() if isinstance(v, torch.Tensor))
    if not tensors:
        raise ConversionError(f'no tensors found; top-level keys: {list(ckpt)[:10]}')
    if all(k.startswith('module.') for k in tensors):
        tensors = OrderedDict((k[len('module.'):], v) for k, v in tensors.items())
    return tensors


class _Unreadable(dict):
    """Stands in for a pickled object whose class cannot be imported here."""

    def __init__(self, *args, **kwargs):
        super().__init__()


class _LenientUnpickler(pickle.Unpickler):
    """Unpickles classes it cannot import as :class:`_Unreadable`: training scripts pickle
    their config beside the weights (Swin-based code: a ``yacs`` ``CfgNode``), and reading the
    weights should not need the authors' packages."""

    def find_class(self, module, name):
        try:
            return super().find_class(module, name)
        except (ImportError, AttributeError):
            return _Unreadable


class _LenientPickle:
    Unpickler = _LenientUnpickler
    load = staticmethod(lambda file, **kwargs: _LenientUnpickler(file, **kwargs).load())


def load_official(src: str,
                  wrapper_keys: Sequence[str] = WRAPPER_KEYS) -> 'OrderedDict[str, torch.Tensor]':
    """Read ``src`` (a ``.pth`` / ``.pth.tar`` / ``.bin`` file as published, or timm's
    ``.safetensors``) and :func:`unwrap` it with ``wrapper_keys``."""
    if not osp.isfile(src):
        raise FileNotFoundError(f'checkpoint not found: {src}')
    try:
        if src.endswith('.safetensors'):
            from safetensors.torch import load_file
            ckpt = load_file(src, device='cpu')
        else:
            # Published files pickle argparse namespaces, numpy scalars and configs beside
            # the weights.
            ckpt = torch.load(src, map_location='cpu', weights_only=False,
                              pickle_module=_LenientPickle)
    except Exception as err:  # truncated or not a torch file
        raise ConversionError(f'cannot read {src}: {err}') from err
    return unwrap(ckpt, wrapper_keys)


class KeyMapper:
    """Take each source tensor exactly once and collect the converted state dict.

    Args:
        source (Dict[str, Tensor]): The official state dict.
        ignore (Iterable[str]): Source keys (exact names or suffixes such as
            ``'relative_position_index'``) that hold buffers we rebuild ourselves.
    """

    def __init__(self, source: Dict[str, torch.Tensor], ignore: Iterable[str] = ()):
        self.source = OrderedDict(source)
        self.ignore = tuple(ignore)
        self.out: 'OrderedDict[str, torch.Tensor]' = OrderedDict()

    def __contains__(self, key: str) -> bool:
        return key in self.source

    def take(self, key: str) -> torch.Tensor:
        """Remove and return source ``key``; a missing key names itself."""
        if key not in self.source:
            raise ConversionError(f'source key "{key}" not found: not the expected layout '
                                  f'(first keys: {list(self.source)[:5]})')
        return self.source.pop(key)

    def put(self, key: str, value: torch.Tensor) -> None:
        """Store ``value`` under our ``key`` (each of our keys is written once)."""
        if key in self.out:
            raise ConversionError(f'target key "{key}" written twice')
        self.out[key] = value.detach().clone().contiguous()

    def move(self, src: str, dst: str,
             fn: Optional[Callable[[torch.Tensor], torch.Tensor]] = None) -> None:
        """``put(dst, fn(take(src)))``."""
        value = self.take(src)
        self.put(dst, fn(value) if fn else value)

    def move_all(self, src: str, dst: str, names: Iterable[str] = ('weight', 'bias')) -> None:
        """Move ``src + name`` to ``dst + name`` for every name; each one must be there."""
        for name in names:
            self.move(src + name, dst + name)

    def move_prefix(self, src: str, dst: str, names: Iterable[str]) -> None:
        """Move ``src + name`` to ``dst + name`` for every name present (e.g. a norm's
        weight / bias / running stats)."""
        for name in names:
            if src + name in self.source:
                self.move(src + name, dst + name)

    def finish(self) -> 'OrderedDict[str, torch.Tensor]':
        """The converted state dict; stops on the first source key no rule placed."""
        left = [k for k in self.source if not k.endswith(self.ignore)]
        if left:
            raise ConversionError(f'could not place source key "{left[0]}" '
                                  f'({len(left)} left unmapped: {left[:8]})')
        return self.out


def stage_depths(source: Dict[str, torch.Tensor],
                 pattern: str = r'layers\.(\d+)\.blocks\.(\d+)\.') -> List[int]:
    """Blocks per stage, read from key names: ``pattern`` captures (stage, block) indices."""
    depth: Dict[int, int] = {}
    for key in source:
        found = re.match(pattern, key)
        if found:
            stage, block = int(found.group(1)), int(found.group(2))
            depth[stage] = max(depth.get(stage, 0), block + 1)
    if sorted(depth) != list(range(len(depth))):
        raise ConversionError(f'no blocks matching {pattern!r}, or stages missing: '
                              f'{sorted(depth)}')
    return [depth[i] for i in range(len(depth))]


def move_norms_and_mlp(mapper: 'KeyMapper', src: str, dst: str) -> None:
    """``norm1`` / ``norm2`` and the timm ``mlp.fc1`` / ``mlp.fc2`` of a pre-norm block at
    ``src`` -> ``norm1`` / ``norm2`` and mmcv's ``FFN`` (``ffn.layers.0.0`` / ``ffn.layers.1``)."""
    for ours, theirs in (('norm1', 'norm1'), ('norm2', 'norm2'), ('ffn.layers.0.0', 'mlp.fc1'),
                         ('ffn.layers.1', 'mlp.fc2')):
        for name in ('weight', 'bias'):
            mapper.move(f'{src}{theirs}.{name}', f'{dst}{ours}.{name}')


def swin_merging_to_unfold(x: torch.Tensor) -> torch.Tensor:
    """Reorder the last dim of a Swin ``PatchMerging`` norm / reduction from the official
    concatenation ``[x0, x1, x2, x3]`` of the 2x2 pixels (0,0), (1,0), (0,1), (1,1) (channel index
    ``pixel * C + c``) to ``nn.Unfold``'s order used by mmcv / mmpretrain (``c * 4 + kh * 2 + kw``).
    """
    *lead, c4 = x.shape
    # (..., pixel, C) with pixels (0,0), (0,1), (1,0), (1,1) -> (..., C, pixel)
    return x.reshape(*lead, 4, c4 // 4)[..., [0, 2, 1, 3], :].transpose(-1, -2).reshape(*lead, c4)


def move_norm_and_head(mapper: 'KeyMapper', norm_dst: str) -> None:
    """The final ``norm`` and linear ``head`` of a timm-style classifier -> ``norm_dst`` (our
    backbone's output norm) and mmpretrain's ``LinearClsHead`` (``head.fc``)."""
    for name in ('weight', 'bias'):
        mapper.move(f'norm.{name}', f'{norm_dst}.{name}')
        mapper.move(f'head.{name}', f'head.fc.{name}')


def move_swin_merging(mapper: 'KeyMapper', src: str, dst: str) -> None:
    """A Swin ``PatchMerging`` (``norm``, bias-free ``reduction``) at ``src`` -> mmcv's /
    mmpretrain's at ``dst``, channels reordered by :func:`swin_merging_to_unfold`."""
    for name in ('norm.weight', 'norm.bias', 'reduction.weight'):
        mapper.move(src + name, dst + name, swin_merging_to_unfold)


def swin_relative_position_index(window: int) -> torch.Tensor:
    """The ``relative_position_index`` buffer of a Swin window attention (mmpretrain
    ``WindowMSA``): entry ``(i, j)`` indexes ``(dy + w - 1) * (2w - 1) + dx + w - 1`` with
    ``(dy, dx)`` the offset of token ``i`` from token ``j`` in a ``w x w`` window."""
    coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window),
                                        indexing='ij')).flatten(1)  # (2, w*w)
    rel = coords[:, :, None] - coords[:, None, :] + window - 1  # (2, w*w, w*w)
    return rel[0] * (2 * window - 1) + rel[1]


def variant_of(layout, variants: Dict, family: str) -> str:
    """The name ``variants`` gives to ``layout`` (a tuple read from the tensor shapes); a layout
    that no config of ours builds stops the conversion with the layout spelled out."""
    if layout not in variants:
        raise ConversionError(f'{family} layout {layout} matches none of {list(variants.values())}')
    return variants[layout]


def save_checkpoint(state_dict: Dict[str, torch.Tensor], dst: str, **meta) -> None:
    """Write ``{'state_dict': ..., 'meta': ...}``, as mmengine checkpoints are laid out."""
    os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
    torch.save(dict(state_dict=state_dict, meta=meta), dst)


def converter_main(convert: Callable[[Dict[str, torch.Tensor]], tuple],
                   description: str,
                   argv=None,
                   wrapper_keys: Sequence[str] = WRAPPER_KEYS) -> None:
    """Command line shared by the converters: ``SRC DST``.

    ``convert(official_state_dict)`` returns ``(state_dict, variant)``, the variant being the
    name it detected from the tensor shapes (printed and stored in ``meta``). ``wrapper_keys``
    go to :func:`unwrap` (e.g. :data:`DEIT_WRAPPER_KEYS`).
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('src', help='checkpoint as published by the authors')
    parser.add_argument('dst', help='output checkpoint for mmext')
    args = parser.parse_args(argv)
    try:
        source = load_official(args.src, wrapper_keys)
        n_source = len(source)
        state_dict, variant = convert(source)
    except (ConversionError, FileNotFoundError) as err:
        raise SystemExit(f'error: {err}')
    save_checkpoint(state_dict, args.dst, converted_from=osp.abspath(args.src), variant=variant)
    print(f'{variant}: mapped {n_source} source tensors to {len(state_dict)} mmext tensors '
          f'-> {args.dst}')


# DINO-style self-supervised training (TransReID-SSL, SOLIDER) saves the EMA teacher, which the
# authors publish, under 'teacher' beside the student and the optimiser state.
DINO_WRAPPER_KEYS = ('teacher', 'model', 'state_dict')


def dino_backbone(source: Dict[str, torch.Tensor]) -> 'OrderedDict[str, torch.Tensor]':
    """The backbone of a DINO teacher: a state dict with keys ``backbone.*`` (and the DINO
    projection head ``head.*``, which is not part of the backbone and is left out) becomes the
    ``backbone.*`` tensors without their prefix; a dict without ``backbone.`` keys (already
    extracted, as ``convert_model_dino.py`` writes it) is returned as it is."""
    if not any(k.startswith('backbone.') for k in source):
        return OrderedDict(source)
    other = [k for k in source if not k.startswith(('backbone.', 'head.'))]
    if other:
        raise ConversionError(f'DINO checkpoint with keys outside "backbone." / "head.": '
                              f'{other[:5]}')
    return OrderedDict((k[len('backbone.'):], v) for k, v in source.items()
                       if k.startswith('backbone.'))
