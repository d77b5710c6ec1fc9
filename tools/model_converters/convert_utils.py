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
from collections import OrderedDict
from typing import Callable, Dict, Iterable, Optional, Sequence

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
            # Published files pickle argparse namespaces and numpy scalars beside the weights.
            ckpt = torch.load(src, map_location='cpu', weights_only=False)
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
