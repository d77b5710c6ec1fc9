"""Local checkpoint loading that works with torch >= 2.6.

torch 2.6 made ``torch.load(weights_only=True)`` the default, but mmengine 0.10.7 calls
``torch.load`` without the argument while its own checkpoints pickle the message hub (numpy
arrays, ``HistoryBuffer``, ``getattr`` reductions). ``load_from``, ``--resume`` and
``tools/test.py`` then fail on every checkpoint mmengine wrote. Allow-listing ``getattr`` would
make ``weights_only`` meaningless, so we re-register mmengine's local-file scheme to load the way
mmengine did before torch 2.6: a checkpoint is trusted code, as it always was for mmengine users.
"""
import os.path as osp

import torch
from mmengine.runner import CheckpointLoader

__all__ = ['CheckpointError', 'load_from_local']


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read or does not match the model."""


@CheckpointLoader.register_scheme(prefixes='', force=True)
def load_from_local(filename: str, map_location=None):
    """Load a local checkpoint file (the default scheme of mmengine's CheckpointLoader)."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    try:
        return torch.load(filename, map_location=map_location, weights_only=False)
    except Exception as err:  # torch raises OSError, RuntimeError, EOFError, UnpicklingError...
        raise CheckpointError(
            f'Checkpoint "{filename}" cannot be read ({type(err).__name__}: {err}). It may be '
            'truncated (an interrupted save or copy) or not a PyTorch checkpoint.') from err


def _first(names, count: int) -> str:
    names = list(names)
    more = f', ... ({len(names) - count} more)' if len(names) > count else ''
    return ', '.join(names[:count]) + more


def check_checkpoint_matches(model: torch.nn.Module, filename: str, show: int = 5) -> None:
    """Raise :class:`CheckpointError` unless ``filename``'s weights fit ``model`` exactly.

    mmengine loads ``load_from`` non-strictly and only logs the mismatched keys, so evaluating
    a checkpoint of another model "works" at chance accuracy. The error names the first
    ``show`` missing, unexpected and wrongly shaped keys of each kind.
    """
    from mmengine.runner.checkpoint import _load_checkpoint
    checkpoint = _load_checkpoint(filename, map_location='cpu')
    state = checkpoint.get('state_dict', checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise CheckpointError(f'Checkpoint "{filename}" holds no state dict.')
    state = {key[len('module.'):] if key.startswith('module.') else key: value
             for key, value in state.items()}
    own = model.state_dict()
    problems = []
    missing = [key for key in own if key not in state]
    unexpected = [key for key in state if key not in own]
    shapes = [f'{key} {tuple(state[key].shape)} vs model {tuple(value.shape)}'
              for key, value in own.items() if key in state and hasattr(state[key], 'shape')
              and tuple(state[key].shape) != tuple(value.shape)]
    for label, names in (('missing in the checkpoint', missing),
                         ('not in the model', unexpected), ('of another shape', shapes)):
        if names:
            problems.append(f'{len(names)} keys {label}: {_first(names, show)}')
    if problems:
        raise CheckpointError(
            f'Checkpoint "{filename}" does not match the model ({type(model).__name__}): '
            + '; '.join(problems) + '. Is it a checkpoint of this config?')
