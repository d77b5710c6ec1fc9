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


@CheckpointLoader.register_scheme(prefixes='', force=True)
def load_from_local(filename: str, map_location=None):
    """Load a local checkpoint file (the default scheme of mmengine's CheckpointLoader)."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return torch.load(filename, map_location=map_location, weights_only=False)
