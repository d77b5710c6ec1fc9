"""Log the losses of a multi-process run averaged over ranks, not rank 0's alone."""
from typing import Optional

import torch
from mmengine.dist import all_reduce, get_world_size
from mmengine.hooks import Hook

from mmext.registry import HOOKS

__all__ = ['RankAverageLossHook']


@HOOKS.register_module()
class RankAverageLossHook(Hook):
    """Average the train step's scalar log vars (losses, accuracies) over all ranks.

    mmengine logs what rank 0's ``train_step`` returned, i.e. the losses of rank 0's share of
    the batch. This hook all-reduces them (one ``all_reduce`` of the stacked scalars per
    iteration) before :class:`mmengine.hooks.RuntimeInfoHook` records them, so logs and
    :class:`mmext.CheckInvalidLossHook` see the loss of the whole batch on every rank (a nan on
    one rank then stops all of them together instead of leaving the others waiting). The
    optimised gradients are unchanged. Nothing happens in a single-process run.
    """

    priority = 'HIGHEST'  # before RuntimeInfoHook (VERY_HIGH) reads the outputs

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        if not outputs or get_world_size() < 2:
            return
        # every rank's model returns the same keys; sorting makes the order agree too
        keys = sorted(key for key, value in outputs.items()
                      if isinstance(value, torch.Tensor) and value.numel() == 1)
        if not keys:
            return
        stacked = torch.stack([outputs[key].detach().float().reshape(()) for key in keys])
        all_reduce(stacked, op='mean')
        for key, value in zip(keys, stacked):
            outputs[key] = value
