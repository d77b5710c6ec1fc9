"""Gather the class shards of mmext.ShardedLinear before mmengine saves a checkpoint."""
from mmengine.hooks import CheckpointHook, Hook
from mmengine.model import is_model_wrapper

from mmext.registry import HOOKS

__all__ = ['ShardedLinearGatherHook']


@HOOKS.register_module()
class ShardedLinearGatherHook(Hook):
    """Before every checkpoint, gather each :class:`mmext.ShardedLinear` on all ranks.

    For the hybrid-parallel instance classifier ("Train a One-Million-Way Instance Classifier
    for Unsupervised Visual Representation Learning", Liu et al., AAAI 2021, arXiv
    2102.04848): each rank holds only its classes, while mmengine takes the model's state
    dict on rank 0 alone. This hook runs, on every rank, just before the ``CheckpointHook``
    (priority LOW < VERY_LOW) at the epochs / iterations at which that hook saves, and makes
    every sharded layer gather its full matrix, which rank 0 then writes. A no-op in a single
    process.
    """

    priority = 'LOW'

    def _gather(self, runner, by_epoch: bool) -> None:
        if runner.world_size < 2:
            return
        saves = False
        for hook in runner.hooks:
            if isinstance(hook, CheckpointHook) and hook.by_epoch == by_epoch:
                if by_epoch:
                    saves |= hook.every_n_epochs(runner, hook.interval, hook.save_begin) or (
                        hook.save_last and hook.is_last_train_epoch(runner))
                else:
                    saves |= hook.every_n_train_iters(runner, hook.interval,
                                                      hook.save_begin) or (
                        hook.save_last and hook.is_last_train_iter(runner))
        if not saves:
            return
        from mmext.models.layers.sharded_linear import ShardedLinear
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        for module in model.modules():
            if isinstance(module, ShardedLinear):
                module.gather_full()

    def after_train_epoch(self, runner) -> None:
        self._gather(runner, by_epoch=True)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._gather(runner, by_epoch=False)
