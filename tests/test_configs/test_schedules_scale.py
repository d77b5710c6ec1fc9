"""The parameter schedules of the configs that train here follow the run's length.

The schedulers of every config that trains on Fashion-MNIST or nuclei data are built the way
mmengine's Runner builds them (a missing ``end`` is the loop's length, ``convert_to_iter_based``
scales by the epoch length). Shrinking a run (shorter epochs, fewer epochs, fewer iterations)
must neither fail nor leave the decay unfinished.
"""
import copy
import math
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.registry import PARAM_SCHEDULERS

REPO = Path(__file__).resolve().parents[2]
TRAIN_SIZES = {'fashion_mnist': 60000, 'nuclei': 35}


@pytest.fixture(scope='module', autouse=True)
def _cached_host_metafiles():
    """mmengine parses all of a host's metafiles (85 YAML files, 1.5 s) for every ``mmpretrain::``
    base it resolves; the 54 configs read the same files, so parse each once."""
    import functools

    import mmengine.config.utils as config_utils
    saved = config_utils.load
    config_utils.load = functools.lru_cache()(saved)
    yield
    config_utils.load = saved


def local_configs():
    """Configs under configs/ (bases excluded) that train on the data prepared here."""
    for path in sorted((REPO / 'configs').rglob('*.py')):
        if '_base_' in path.parts:
            continue
        if 'fashionmnist' in path.name or 'nuclei' in path.name:
            yield str(path.relative_to(REPO))


def run_length(cfg: Config, epoch_length: int):
    """(by_epoch, max_epochs, max_iters) of the config's train loop."""
    loop = cfg.train_cfg
    by_epoch = loop.get('by_epoch', loop.get('type', 'EpochBasedTrainLoop') !=
                        'IterBasedTrainLoop')
    if by_epoch:
        return True, loop.max_epochs, loop.max_epochs * epoch_length
    return False, None, loop.max_iters


def scheduler_ends(cfg: Config, epoch_length: int):
    """The run's length in iterations and the iterations where its schedulers end, built as
    mmengine's Runner builds them (a missing ``end`` is the loop's length)."""
    by_epoch, max_epochs, max_iters = run_length(cfg, epoch_length)
    param = torch.nn.Parameter(torch.zeros(1))
    wrapper = OptimWrapper(torch.optim.SGD([param], lr=1.0, momentum=0.9))
    ends = set()
    for scheduler in copy.deepcopy(cfg.param_scheduler):
        scheduler.setdefault('end', max_epochs if scheduler.get('by_epoch', True) else max_iters)
        built = PARAM_SCHEDULERS.build(
            scheduler, default_args=dict(optimizer=wrapper, epoch_length=epoch_length))
        ends.add(built.end * (epoch_length if built.by_epoch else 1))
    return max_iters, ends


def full_epoch_length(cfg: Config) -> int:
    loader = cfg.train_dataloader
    size = next(n for name, n in TRAIN_SIZES.items() if name in str(loader.dataset))
    indices = loader.dataset.get('indices')
    if isinstance(indices, int):
        size = indices
    return math.ceil(size / loader.batch_size)


@pytest.mark.parametrize('path', list(local_configs()))
def test_schedule_scales_with_the_run(path):
    cfg = Config.fromfile(path)
    if cfg.get('param_scheduler') == []:
        return  # a constant learning rate (e.g. lr 0 for a random-init reference): nothing to scale
    epoch_length = full_epoch_length(cfg)
    by_epoch, max_epochs, max_iters = run_length(cfg, 1)
    shorter = copy.deepcopy(cfg)
    variants = [(cfg, epoch_length)]
    if by_epoch:
        variants.append((cfg, 2))  # a few samples: 2 iterations per epoch
        if max_epochs >= 3:  # (1-2 epoch runs may warm up for a whole epoch first)
            shorter.train_cfg.max_epochs = max_epochs - 1
            variants += [(shorter, epoch_length), (shorter, 2)]
    else:
        shorter.train_cfg.max_iters = max_iters // 2
        variants.append((shorter, epoch_length))
    for variant, length in variants:
        iters, ends = scheduler_ends(variant, length)
        # the decay ends with the (shortened) run: compressed, not cut short; a warm-up counted
        # in iterations may outlast a run of a few iterations
        assert iters in ends, f'{path}: a run of {iters} iterations, schedulers ending at {ends}'


@pytest.mark.parametrize('path', list(local_configs()))
def test_iteration_loops_log_metrics_at_their_iteration(path):
    """An iteration-based run's validation metrics are logged at the iteration they were
    computed (``log_metric_by_epoch=False``); mmengine's default puts them all at step 0."""
    cfg = Config.fromfile(path)
    by_epoch, _, _ = run_length(cfg, 1)
    if not by_epoch:
        logger = cfg.default_hooks.logger
        assert logger.get('log_metric_by_epoch', True) is False, f'{path}: {logger}'
