"""Reseed every random stream at the start of each training epoch, so that resume is exact."""
import functools
from typing import Optional

from mmengine.hooks import Hook
from mmengine.runner.utils import set_random_seed

from mmext.registry import HOOKS

__all__ = ['EpochSeedHook', 'epoch_seed']


def epoch_seed(seed: int, epoch: int) -> int:
    """A seed of its own for every (run seed, epoch) pair."""
    return (seed * 1_000_003 + epoch) % 2**31


@HOOKS.register_module()
class EpochSeedHook(Hook):
    """Make epoch ``k`` draw the same random numbers whether or not the run was resumed.

    mmengine seeds the random generators once per process, and its dataloader workers once when
    they start, with seeds that do not depend on the epoch (persistent workers keep their state
    from one epoch to the next). A run resumed at epoch ``k`` therefore augments (random crops,
    flips, batch mixing, dropout) differently from the uninterrupted run, and ends with other
    weights. This hook derives a seed from the run's seed and the epoch (see
    :func:`epoch_seed`) before each training epoch and

    - reseeds ``random``, NumPy and torch in the training process (pipelines of a loader
      without workers, dropout, batch augments), with the rank added under
      ``randomness.diff_rank_seed``;
    - gives the loader's ``worker_init_fn`` (mmengine's, which seeds each worker from
      ``seed + worker_id + rank * num_workers``) the epoch's seed and, for persistent workers,
      restarts them so that they run it (a worker start per epoch).

    The sampler's shuffling already depends on the epoch only (``DefaultSampler.set_epoch``).
    With ``randomness.deterministic=True`` a run resumed at an epoch boundary then ends with
    bit-identical weights. Iteration-based loops have a single "epoch": they are seeded once.
    ``tools/train.py`` adds this hook to every run.
    """

    priority = 'VERY_HIGH'

    def before_train_epoch(self, runner) -> None:
        seed = epoch_seed(runner.seed, runner.epoch)
        set_random_seed(
            seed, diff_rank_seed=(runner._randomness_cfg or {}).get('diff_rank_seed', False))
        loader = runner.train_dataloader
        init_fn: Optional[functools.partial] = getattr(loader, 'worker_init_fn', None)
        if loader.num_workers == 0 or not isinstance(init_fn, functools.partial) \
                or 'seed' not in init_fn.keywords:
            return
        loader.worker_init_fn = functools.partial(
            init_fn.func, *init_fn.args, **dict(init_fn.keywords, seed=seed))
        iterator = getattr(loader, '_iterator', None)
        if loader.persistent_workers and iterator is not None:
            iterator._shutdown_workers()
            loader._iterator = None
