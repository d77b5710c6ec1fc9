"""Checks shared by tools/train.py and tools/test.py.

They turn the usual first-run mistakes (a wrong config path, data not prepared, a misspelt
``type``) into one message that says what is wrong and how to fix it, before any training starts.
"""
import argparse
import difflib
import os
import os.path as osp
import re
import sys
from contextlib import contextmanager
from typing import Iterable, Iterator, List, Optional, Sequence

from mmengine.config import Config, DictAction

# data_root prefix -> command that prepares it
DATA_PREPARERS = {
    'data/fashion_mnist': 'python tools/dataset_converters/fashion_mnist.py',
    'data/nuclei': ('pip download --no-deps stardist==0.9.2 -d data/downloads && '
                    'python tools/dataset_converters/nuclei.py'),
}


class ConfigError(Exception):
    """A problem in a config or its inputs, with a message meant for the user."""


def check_config_file(path: str) -> None:
    if not os.path.isfile(path):
        near = ''
        folder = os.path.dirname(path) or '.'
        if os.path.isdir(folder):
            close = difflib.get_close_matches(os.path.basename(path), os.listdir(folder), n=3)
            if close:
                near = ' Did you mean: ' + ', '.join(os.path.join(folder, c) for c in close) + '?'
        raise ConfigError(f'Config file "{path}" does not exist.{near}')


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    check_config_file(path)
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def parse_tool_args(parser: argparse.ArgumentParser,
                    argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Add the options every tool shares (``--cfg-options``, ``--launcher``, ``--local-rank``)
    to ``parser``, parse ``argv`` and export ``LOCAL_RANK`` for mmengine's launcher."""
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, key=value pairs (e.g. train_cfg.max_epochs=2)')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
        help='job launcher')
    # torch.distributed.launch passes --local-rank / --local_rank
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def set_work_dir(cfg: Config, work_dir: Optional[str], config_path: str) -> None:
    """``--work-dir`` if given, else the config's ``work_dir``, else ./work_dirs/CONFIG_NAME."""
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(config_path))[0])


@contextmanager
def exit_on_user_error() -> Iterator[None]:
    """Turn a :class:`ConfigError` or an unknown-``type`` error into ``sys.exit('error: ...')``.

    Other errors propagate with their traceback: they are bugs, not config mistakes.
    """
    try:
        yield
    except ConfigError as err:
        sys.exit(f'error: {err}')
    except KeyError as err:
        message = describe_build_error(err)
        if message is None:
            raise
        sys.exit(f'error: {message}')


def build_runner(cfg: Config):
    """The config's own runner type if it names one, else mmengine's Runner."""
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)


def _datasets(cfg: Config, loaders: Iterable[str]):
    """Yield (config key, dataset cfg) for every dataset the given loaders read, wrappers included."""
    for loader in loaders:
        dataset = (cfg.get(loader) or {}).get('dataset')
        stack = [(f'{loader}.dataset', dataset)]
        while stack:
            key, ds = stack.pop()
            if isinstance(ds, (list, tuple)):
                stack += [(f'{key}[{i}]', d) for i, d in enumerate(ds)]
            elif isinstance(ds, dict):
                if 'dataset' in ds:
                    stack.append((f'{key}.dataset', ds['dataset']))
                if 'datasets' in ds:
                    stack.append((f'{key}.datasets', ds['datasets']))
                if 'data_root' in ds or 'ann_file' in ds:
                    yield key, ds


def check_data_roots(cfg: Config, loaders: Iterable[str]) -> None:
    """Fail early, naming the config key and the command to run, when a dataset is missing."""
    for key, ds in _datasets(cfg, loaders):
        root = ds.get('data_root') or ''
        ann = ds.get('ann_file') or ''
        missing = None
        if root and not os.path.isdir(root):
            missing = (f'{key}.data_root', root)
        elif ann and not os.path.isabs(ann) and not os.path.exists(os.path.join(root, ann)):
            missing = (f'{key}.ann_file', os.path.join(root, ann))
        if missing:
            hint = next((cmd for prefix, cmd in DATA_PREPARERS.items()
                         if os.path.normpath(root).endswith(os.path.normpath(prefix))), None)
            how = (f'Prepare it with:\n    {hint}' if hint else
                   'Point the config at the data with --cfg-options '
                   f'{missing[0]}=PATH or prepare the dataset as its README says.')
            raise ConfigError(f'Dataset path "{missing[1]}" ({missing[0]}) does not exist. {how}')


_UNKNOWN_TYPE = re.compile(r'(\S+) is not in the (\S+)::(\S+) registry')


def _registered_names(kind: str) -> List[str]:
    """'scope.Name' of everything registered under the mmengine root registry called ``kind``."""
    import mmengine.registry as roots
    names: List[str] = []
    for root in vars(roots).values():
        if isinstance(root, roots.Registry) and root.parent is None and root.name == kind:
            for registry in [root, *root.children.values()]:
                names += [f'{registry.scope}.{key}' for key in registry.module_dict]
    return names


def describe_build_error(err: Exception) -> Optional[str]:
    """A one-paragraph explanation of an unknown-``type`` error, or None for other errors."""
    match = _UNKNOWN_TYPE.search(str(err))
    if not match:
        return None
    name, scope, kind = match.groups()
    name = name.strip("'\"")
    candidates = _registered_names(kind)
    close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.5)
    msg = f'Unknown type "{name}" (looked up in the {scope}::{kind} registry).'
    if close:
        msg += ' Did you mean: ' + ', '.join(close) + '?'
    return msg + (" mmext parts are named 'mmext.Name' and need "
                  "custom_imports=dict(imports=['mmext']) in the config.")
