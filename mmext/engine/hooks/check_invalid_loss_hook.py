"""Stop training at the first non-finite loss (extends mmdet's CheckInvalidLossHook)."""
import math
from typing import Optional

import torch
from mmdet.engine.hooks import CheckInvalidLossHook as MMDetCheckInvalidLossHook

from mmext.registry import HOOKS

__all__ = ['CheckInvalidLossHook', 'NonFiniteLossError']


class NonFiniteLossError(FloatingPointError):
    """A loss term became nan or inf during training."""


@HOOKS.register_module()
class CheckInvalidLossHook(MMDetCheckInvalidLossHook):
    """Stop training at the first nan / inf loss with a message naming the iteration and terms.

    mmdet's hook asserts on ``outputs['loss']`` every 50 iterations and raises a bare
    ``AssertionError``; diverged runs then go on for up to 49 iterations and, when the check
    falls after the epoch, save a "best" checkpoint of nan weights. This one checks every loss
    term (``'loss' in key``) of the train step's log vars every ``interval`` iterations and
    raises :class:`NonFiniteLossError`. Its priority (``VERY_HIGH``) runs it before the
    checkpoint hook, so the diverged state is never saved; ``tools/train.py`` adds it to every
    run and prints the error as one line.

    Args:
        interval (int): Check every ``interval`` training iterations. Defaults to 1.
    """

    priority = 'VERY_HIGH'

    def __init__(self, interval: int = 1) -> None:
        super().__init__(interval=interval)

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        if not outputs or not self.every_n_train_iters(runner, self.interval):
            return
        terms = {key: float(value.detach() if isinstance(value, torch.Tensor) else value)
                 for key, value in outputs.items()
                 if 'loss' in key and isinstance(value, (torch.Tensor, float, int))}
        bad = [key for key, value in terms.items() if not math.isfinite(value)]
        if bad:
            values = ', '.join(f'{key}={value:.4g}' for key, value in terms.items())
            raise NonFiniteLossError(
                f'non-finite loss at iteration {runner.iter + 1} (epoch {runner.epoch + 1}, '
                f'batch {batch_idx + 1}): {", ".join(bad)} ({values}). Training stopped; this '
                'state was not saved. Lower the learning rate (optim_wrapper.optimizer.lr) or '
                'add gradient clipping (optim_wrapper.clip_grad).')
