"""Checks shared by tools/train.py and tools/test.py, and what the tools/ scripts share.

They turn the usual first-run mistakes (a wrong config path, data not prepared, a misspelt
``type``) into one message that says what is wrong and how to fix it, before any training starts.
"""
import argparse
import difflib
import functools
import importlib.util
import os
import os.path as osp
import re
import sys
from contextlib import contextmanager
from types import ModuleType
from typing import Iterable, Iterator, List, Optional, Sequence, Tuple

from mmengine.config import Config, DictAction

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# data_root folder name -> command that prepares it (tools/prepare_data.sh prepares both)
DATA_PREPARERS = {
    'fashion_mnist': ('bash TOOLS/prepare_data.sh\n(or only this set: '
                      'python TOOLS/dataset_converters/fashion_mnist.py --out DATA_ROOT)'),
    'nuclei': ('bash TOOLS/prepare_data.sh\n(or only this set: pip download --no-deps '
               'stardist==0.9.2 -d data/downloads && python TOOLS/dataset_converters/nuclei.py '
               '--out DATA_ROOT)'),
}
# files a dataset type reads from data_root, for the ones without an ann_file (mmpretrain's
# MNIST family would otherwise advise download=True, which needs the internet)
DATA_FILES = {
    name: ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte',
           't10k-labels-idx1-ubyte']
    for name in ('MNIST', 'FashionMNIST')
}
# errors of these types raised by mmext's own code are user errors: config validation
# (ValueError / TypeError) and a diverged run (mmext.CheckInvalidLossHook's FloatingPointError)
USER_ERROR_TYPES = (ValueError, TypeError, FloatingPointError)


class ConfigError(Exception):
    """A problem in a config or its inputs, with a message meant for the user."""


@functools.lru_cache(maxsize=None)
def load_script(path: str) -> ModuleType:
    """The script at ``path`` (e.g. ``tools/analysis/compare_runs.py``), imported once.

    A tool reuses a sibling script this way: tools/ is not a package, and a tool imported by
    path (as the tests do) does not have its folder on ``sys.path``.
    """
    name = 'mmext_tools_' + osp.splitext(osp.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
    parser.add_argument(
        '--traceback', action='store_true',
        help='show the full traceback of config and data errors (also MMEXT_TRACEBACK=1)')
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def set_work_dir(cfg: Config, work_dir: Optional[str], config_path: str) -> None:
    """``--work-dir`` if given, else the config's ``work_dir``, else ./work_dirs/CONFIG_NAME."""
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(config_path))[0])


def _innermost_frame(err: BaseException):
    """The frame that raised ``err`` (None without a traceback)."""
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame if tb is not None else None


def _raised_by_mmext(err: BaseException) -> bool:
    """Whether ``err`` (or an error it was raised from) comes from a frame of mmext or tools/."""
    roots = (osp.join(REPO_ROOT, 'mmext', ''), osp.join(REPO_ROOT, 'tools', ''))
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        frame = _innermost_frame(err)
        if frame is not None and osp.abspath(frame.f_code.co_filename).startswith(roots):
            return True
        err = err.__cause__ or err.__context__
    return False


# a config key the built class does not take, or a required one it lacks
_BAD_ARGUMENT = re.compile(r'unexpected keyword argument|missing \d+ required')


def user_error_message(err: BaseException) -> Optional[str]:
    """The one-line message for an error the user can fix, or None for a bug.

    User errors: :class:`ConfigError`, an unknown ``type``, a missing file, mmengine's duplicate
    keys among ``_base_`` files, a ``ValueError`` / ``TypeError`` raised by mmext's own
    validation (a config value out of range, a wrong module path), a diverged run, and a config
    dict with a key its class does not take.
    """
    if isinstance(err, ConfigError):
        return str(err)
    if isinstance(err, KeyError):
        if 'Duplicate key is not allowed among bases' in str(err):
            return (f'{err.args[0]} Two _base_ files define the same top-level keys. A full host '
                    'config (e.g. mmdet::retinanet/retinanet_r50_fpn_1x_coco.py) already holds a '
                    'dataset, schedule and runtime: inherit its model base (mmdet::_base_/models/'
                    '...) next to a dataset base instead; see README "Use mmext in your own '
                    'project".')
        return describe_build_error(err)
    if isinstance(err, FileNotFoundError):
        return str(err)
    if isinstance(err, USER_ERROR_TYPES) and _raised_by_mmext(err):
        return str(err)
    frame = _innermost_frame(err)
    if isinstance(err, TypeError) and _BAD_ARGUMENT.search(str(err)) and frame is not None \
            and frame.f_code.co_name == 'build_from_cfg':
        return f'{err} (check the keys of that config dict)'
    return None


def show_tracebacks(flag: Optional[bool] = None) -> bool:
    """``--traceback`` if given, else the ``MMEXT_TRACEBACK`` environment variable."""
    if flag:
        return True
    return os.environ.get('MMEXT_TRACEBACK', '').lower() in ('1', 'true', 'yes')


@contextmanager
def exit_on_user_error(traceback: Optional[bool] = None) -> Iterator[None]:
    """Turn an error the user can fix (see :func:`user_error_message`) into
    ``sys.exit('error: ...')``: one message, no traceback.

    Other errors propagate with their traceback: they are bugs, not config mistakes. With
    ``traceback=True`` (the tools' ``--traceback``) or ``MMEXT_TRACEBACK=1`` every error keeps
    its traceback.
    """
    try:
        yield
    except (ConfigError, KeyError, FileNotFoundError) + USER_ERROR_TYPES as err:
        message = None if show_tracebacks(traceback) else user_error_message(err)
        if message is None:
            raise
        sys.exit(f'error: {message}\n(run with --traceback or MMEXT_TRACEBACK=1 for details)')


def drop_schedulers_after_run(cfg: Config) -> List[str]:
    """Remove parameter schedulers that would start after a shortened run has ended.

    A scheduler without ``end`` runs to the end of the loop (mmengine fills it in), so a run
    shortened with --cfg-options to fewer epochs / iterations than a scheduler's ``begin`` makes
    mmengine fail with "end should be larger than begin". Such a scheduler would never act; it
    is dropped and described in the returned lines.
    """
    loop = cfg.get('train_cfg') or {}
    by_epoch = loop.get('by_epoch', loop.get('type', 'EpochBasedTrainLoop') !=
                        'IterBasedTrainLoop')
    length = loop.get('max_epochs' if by_epoch else 'max_iters')
    schedulers = cfg.get('param_scheduler')
    if length is None or not isinstance(schedulers, (list, tuple)):
        return []
    late = [s for s in schedulers if isinstance(s, dict) and 'end' not in s
            and s.get('by_epoch', True) == by_epoch and s.get('begin', 0) >= length]
    if late:
        cfg.param_scheduler = [s for s in schedulers if not any(s is x for x in late)]
    unit = 'epochs' if by_epoch else 'iterations'
    return [f'param_scheduler {s.get("type")} begins at {s.get("begin")}, after the run\'s '
            f'{length} {unit}: skipped' for s in late]


def build_runner(cfg: Config):
    """The config's own runner type if it names one, else mmengine's Runner; its logger drops
    mmengine's known deprecation notices."""
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner

    from .quiet import silence_known_warnings
    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
    silence_known_warnings(runner.logger)
    return runner


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


def _missing_data(key: str, ds: dict) -> Optional[Tuple[str, str]]:
    """(config key, path) of the first thing a dataset config needs that is not on disk."""
    root = ds.get('data_root') or ''
    ann = ds.get('ann_file') or ''
    if root and (not os.path.isdir(root) or not os.listdir(root)):
        return f'{key}.data_root', root
    if ann and not os.path.isabs(ann) and not os.path.exists(os.path.join(root, ann)):
        return f'{key}.ann_file', os.path.join(root, ann)
    for name in DATA_FILES.get(str(ds.get('type', '')).split('.')[-1], []):
        if not os.path.exists(os.path.join(root, name)):
            return f'{key}.data_root', os.path.join(root, name)
    return None


def check_data_roots(cfg: Config, loaders: Iterable[str]) -> None:
    """Fail early, naming the config key and the command to run, when a dataset is missing
    (an absent or empty folder, or a file the dataset reads)."""
    for key, ds in _datasets(cfg, loaders):
        missing = _missing_data(key, ds)
        if missing:
            root = os.path.normpath(ds.get('data_root') or '')
            hint = DATA_PREPARERS.get(os.path.basename(root))
            tools = osp.relpath(osp.join(REPO_ROOT, 'tools'))
            if tools.startswith('..'):  # run from outside the checkout: an absolute path
                tools = osp.join(REPO_ROOT, 'tools')
            hint = hint and hint.replace('DATA_ROOT', root).replace('TOOLS', tools)
            how = (f'Prepare it with:\n    {hint}' if hint else
                   'Point the config at the data with --cfg-options '
                   f'{missing[0]}=PATH or prepare the dataset as its README says.')
            raise ConfigError(f'Dataset path "{missing[1]}" ({missing[0]}) is missing or empty. '
                              f'{how}')


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
