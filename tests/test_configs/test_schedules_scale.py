"""The parameter schedules of the configs that train here follow the run's length.

Every config that reads Fashion-MNIST or nuclei data is resolved the way mmengine's Runner
builds its schedulers (a missing ``end`` is the loop's length, ``convert_to_iter_based`` scales by
the epoch length) and the learning rate is stepped through the whole run. Shrinking a run
(shorter epochs, fewer epochs, fewer iterations) must neither fail nor leave the decay unfinished.
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


def lr_curve(cfg: Config, epoch_length: int):
    """The learning-rate factor at every training iteration, as mmengine's Runner and
    ParamSchedulerHook would set it (base lr 1)."""
    by_epoch, max_epochs, max_iters = run_length(cfg, epoch_length)
    param = torch.nn.Parameter(torch.zeros(1))
    wrapper = OptimWrapper(torch.optim.SGD([param], lr=1.0, momentum=0.9))
    schedulers = []
    for scheduler in copy.deepcopy(cfg.param_scheduler):
        scheduler.setdefault('end', max_epochs if scheduler.get('by_epoch', True) else max_iters)
        schedulers.append(
            PARAM_SCHEDULERS.build(
                scheduler, default_args=dict(optimizer=wrapper, epoch_length=epoch_length)))
    lrs = []
    for it in range(max_iters):
        lrs.append(wrapper.optimizer.param_groups[0]['lr'])
        for scheduler in schedulers:
            if not scheduler.by_epoch:
                scheduler.step()
        if by_epoch and (it + 1) % epoch_length == 0:
            for scheduler in schedulers:
                if scheduler.by_epoch:
                    scheduler.step()
    return lrs


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
    full = lr_curve(cfg, full_epoch_length(cfg))
    by_epoch, max_epochs, max_iters = run_length(cfg, 1)
    # a few samples (2 iterations per epoch), and one epoch / a tenth of the iterations
    shrunk = copy.deepcopy(cfg)
    if by_epoch:
        shrunk.train_cfg.max_epochs = 1
    else:
        shrunk.train_cfg.max_iters = max(max_iters // 10, 60)
    for variant, epoch_length in ((cfg, 2), (shrunk, 2), (shrunk, full_epoch_length(cfg))):
        lrs = lr_curve(variant, epoch_length)
        assert all(math.isfinite(lr) and lr >= 0 for lr in lrs)
        # the run ends where the full schedule ends: the decay is stretched, not cut short
        assert lrs[-1] == pytest.approx(full[-1], rel=0.2, abs=0.02 * max(full)), (
            f'{path}: final lr factor {lrs[-1]:.4g} of a run of {len(lrs)} iterations, '
            f'{full[-1]:.4g} in the full run')
