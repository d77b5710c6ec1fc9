"""Combination-removal schedule of LBC N:M sparsity (arXiv:2206.06662)."""
import math

from mmengine.hooks import Hook

from mmext.models.layers.compression_utils import compressed_layers
from mmext.models.layers.lbc import _LBCMixin
from mmext.registry import HOOKS

__all__ = ['LBCHook']


@HOOKS.register_module()
class LBCHook(Hook):
    """Gradually remove the low-scored combinations of every LBC layer.

    From "Learning Best Combination for Efficient N:M Sparsity" (arXiv:2206.06662). Between
    ``start`` and ``end`` the number of alive combinations per group follows the cubic schedule
    of the official code, ``1 + ceil((C - 1) * (1 - p) ** 3)`` with ``C = C(M, N)`` and ``p`` the
    progress from ``start`` to ``end``; the lowest-scored combinations of each group are removed
    to meet it. From ``end`` on, one combination per group is left (exact N:M sparsity) and the
    scores are frozen (no gradient, as in the official code).

    Args:
        start (int): Epoch (or iteration) at which removal starts. Defaults to 0 (paper t_i).
        end (int): Epoch (or iteration) at which one combination is left; the paper uses half of
            the training epochs (60 of 120). Defaults to 60.
        by_epoch (bool): Whether ``start`` / ``end`` count epochs. Defaults to True.
    """

    priority = 'LOW'  # runs before CheckpointHook (VERY_LOW) after an epoch

    def __init__(self, start: int = 0, end: int = 60, by_epoch: bool = True) -> None:
        if start < 0 or end <= start:
            raise ValueError(f'"start" and "end" must satisfy 0 <= start < end, got '
                             f'start={start}, end={end}')
        self.start = start
        self.end = end
        self.by_epoch = by_epoch

    @staticmethod
    def alive(num_combinations: int, progress: float) -> int:
        """Combinations left per group at ``progress`` in [0, 1] (cubic schedule)."""
        p = min(max(progress, 0.0), 1.0)
        return 1 + math.ceil((num_combinations - 1) * (1 - p)**3)

    def before_train(self, runner) -> None:
        if not compressed_layers(runner.model, _LBCMixin):
            raise ValueError('LBCHook: the model has no mmext.LBCConv2d / mmext.LBCLinear layer')
        horizon = runner.max_epochs if self.by_epoch else runner.max_iters
        if self.end > horizon:
            raise ValueError(f'LBCHook: "end"={self.end} is beyond the training length '
                             f'{horizon}; the model would never reach N:M sparsity')
        self._step(runner, runner.epoch if self.by_epoch else runner.iter)

    def _step(self, runner, t: int) -> None:
        progress = (t - self.start) / (self.end - self.start)
        done = True
        for layer in compressed_layers(runner.model, _LBCMixin).values():
            c = layer.num_combinations
            layer.remove_combinations(c - self.alive(c, progress))
            if layer.nm_satisfied:
                # scores no longer matter once one combination is left: stop training them
                layer.lbc_scores.requires_grad_(False)
                layer.lbc_scores.grad = None
            else:
                done = False
        runner.message_hub.update_scalar('train/lbc_nm_satisfied', float(done))

    def before_train_epoch(self, runner) -> None:
        if self.by_epoch:
            self._step(runner, runner.epoch)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if not self.by_epoch:
            self._step(runner, runner.iter)

    def after_train_epoch(self, runner) -> None:
        # apply the next epoch's removal before CheckpointHook (lower priority) saves, so that a
        # run with end == max_epochs still ends N:M sparse
        if self.by_epoch:
            self._step(runner, runner.epoch + 1)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not self.by_epoch:
            self._step(runner, runner.iter + 1)
