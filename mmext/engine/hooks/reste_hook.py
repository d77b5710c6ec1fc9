"""Exponent schedule of the ReSTE estimator (arXiv:2308.06689)."""
import math

from mmengine.hooks import Hook

from mmext.models.layers.compression_utils import compressed_layers
from mmext.models.layers.reste import ReSTEConv2d
from mmext.registry import HOOKS

__all__ = ['ReSTEHook']


@HOOKS.register_module()
class ReSTEHook(Hook):
    """Grow the ReSTE exponent ``o`` of every :class:`mmext.ReSTEConv2d` during training.

    From "Estimator Meets Equilibrium Perspective: A Rectified Straight Through Estimator for
    Binary Neural Networks Training" (arXiv:2308.06689). Early in training ``o`` is close to 1
    (the plain straight-through estimator: stable gradients, large estimating error); it then
    rises along a quarter cosine, ``o = o_start + (1 - cos(pi / 2 * p)) * (o_end - o_start)`` with
    ``p`` the training progress, so the estimator approaches ``sign`` (small estimating error) once
    the weights have settled, as in the official code.

    Args:
        o_start (float): Exponent at the start of training. Defaults to 1.0.
        o_end (float): Exponent the schedule approaches at the end. Defaults to 3.0 (paper).
        by_epoch (bool): Update once per epoch (official code) or every iteration.
            Defaults to True.
    """

    priority = 'NORMAL'

    def __init__(self, o_start: float = 1.0, o_end: float = 3.0, by_epoch: bool = True) -> None:
        if o_start < 1:
            raise ValueError(f'"o_start" must be >= 1, got {o_start}')
        if o_end < o_start:
            raise ValueError(f'"o_end" must be >= "o_start"={o_start}, got {o_end}')
        self.o_start = float(o_start)
        self.o_end = float(o_end)
        self.by_epoch = by_epoch

    def exponent(self, progress: float) -> float:
        """Exponent at ``progress`` in [0, 1]."""
        beta = 1.0 - math.cos(min(max(progress, 0.0), 1.0) * math.pi / 2)
        return self.o_start + beta * (self.o_end - self.o_start)

    def before_train(self, runner) -> None:
        if not compressed_layers(runner.model, ReSTEConv2d):
            raise ValueError('ReSTEHook: the model has no mmext.ReSTEConv2d layer; build it with '
                             'conv_cfg=dict(type="mmext.ReSTEConv2d") or mmext.CompressedModel')

    def _set(self, runner, progress: float) -> float:
        o = self.exponent(progress)
        for layer in compressed_layers(runner.model, ReSTEConv2d).values():
            layer.o.fill_(o)
        runner.message_hub.update_scalar('train/reste_o', o)
        return o

    def before_train_epoch(self, runner) -> None:
        if self.by_epoch:
            self._set(runner, runner.epoch / max(runner.max_epochs, 1))

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if not self.by_epoch:
            self._set(runner, runner.iter / max(runner.max_iters, 1))
