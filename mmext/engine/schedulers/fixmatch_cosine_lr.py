"""The learning-rate decay of FixMatch and Dash: ``lr_k = lr_0 cos(7 pi k / (16 K))``."""
import math
from typing import List

from mmengine.optim.scheduler.lr_scheduler import LRSchedulerMixin
from mmengine.optim.scheduler.param_scheduler import INF, _ParamScheduler

from mmext.registry import PARAM_SCHEDULERS

__all__ = ['FixMatchCosineLR']


@PARAM_SCHEDULERS.register_module()
class FixMatchCosineLR(LRSchedulerMixin, _ParamScheduler):
    """Cosine decay without annealing to zero, as in FixMatch and Dash.

    FixMatch (arXiv 2001.07685) and the official Dash code ("Dash: Semi-Supervised Learning with
    Dynamic Thresholding", arXiv 2109.00650) set ``lr_k = lr_0 * cos(num_cycles * pi * k / K)``
    at step ``k`` of ``K = end - begin`` with ``num_cycles = 7 / 16``: the rate ends at
    ``cos(7 pi / 16) = 0.195`` of its start instead of 0 (mmengine's ``CosineAnnealingLR``
    follows ``(1 + cos(pi k / K)) / 2``). Closed form, so do not chain another lr scheduler over
    the same steps. Without ``end`` the runner sets it to the loop's length.

    Args:
        optimizer (Optimizer | OptimWrapper): The wrapped optimizer.
        num_cycles (float): Fraction of a full cosine period covered, in (0, 0.5].
            Defaults to 7 / 16.
        begin (int): First step. Defaults to 0.
        end (int): Last step (exclusive). Defaults to INF (the runner's max iters / epochs).
        last_step (int): Index of the last step, for resuming without a state dict.
            Defaults to -1.
        by_epoch (bool): Step per epoch (True) or per iteration. Defaults to True.
        verbose (bool): Print every update. Defaults to False.
    """

    def __init__(self,
                 optimizer,
                 num_cycles: float = 7 / 16,
                 begin: int = 0,
                 end: int = INF,
                 last_step: int = -1,
                 by_epoch: bool = True,
                 verbose: bool = False) -> None:
        if not 0 < num_cycles <= 0.5:
            raise ValueError(f'"num_cycles" must be in (0, 0.5] (a decreasing, non-negative '
                             f'rate), got {num_cycles}')
        if end == INF:
            raise ValueError('FixMatchCosineLR needs "end" (the runner sets it to the loop\'s '
                             'length when the config leaves it out)')
        self.num_cycles = num_cycles
        super().__init__(optimizer, begin=begin, end=end, last_step=last_step,
                         by_epoch=by_epoch, verbose=verbose)

    def _get_value(self) -> List[float]:
        factor = math.cos(self.num_cycles * math.pi * self.last_step / (self.end - self.begin))
        return [base * factor for base in self.base_values]
