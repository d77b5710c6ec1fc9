"""Epoch bookkeeping of CoKe's online clustering (arXiv 2105.11527)."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmext.registry import HOOKS

__all__ = ['CoKeHook']


@HOOKS.register_module()
class CoKeHook(Hook):
    """Tell :class:`mmext.CoKeHead` which epoch a training iteration belongs to.

    CoKe ("Unsupervised Visual Representation Learning by Online Constrained K-Means", Qian et
    al., CVPR 2022, arXiv 2105.11527) discriminates the clusters frozen at the end of the
    previous epoch; the official code rolls the centres over after every epoch. The epoch is
    ``runner.iter // len(train_dataloader)``, so the hook serves epoch- and iteration-based
    loops alike and, the head keeping its epoch in a buffer, resumes where it stopped.

    The official schedule (``adjust_learning_rate`` of idstcv/CoKe) also sets the learning
    rate to 0 in epoch 0, which only clusters (the features of the untrained network give the
    first labels); the parameter schedulers then start at epoch 1. ``zero_lr_epochs=1`` does
    this here: the learning rates of the optimizer are 0 for the iterations of the first
    epoch(s) and restored after each of them, before the schedulers step.

    Args:
        head (str): Attribute path of the head in the (unwrapped) model. Defaults to 'head'.
        zero_lr_epochs (int): Number of first epochs trained with learning rate 0. Defaults
            to 1 (official).
    """

    priority = 'NORMAL'

    def __init__(self, head: str = 'head', zero_lr_epochs: int = 1) -> None:
        if int(zero_lr_epochs) != zero_lr_epochs or zero_lr_epochs < 0:
            raise ValueError(f'"zero_lr_epochs" must be an int >= 0, got {zero_lr_epochs}')
        self.head = head
        self.zero_lr_epochs = zero_lr_epochs
        self._saved_lrs = None

    def _coke_head(self, runner):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        head = model
        for name in self.head.split('.'):
            head = getattr(head, name)
        if not hasattr(head, 'set_epoch'):
            raise TypeError(f'CoKeHook: model.{self.head} ({type(head).__name__}) has no '
                            f'set_epoch; point "head" at the CoKeHead')
        return head

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        epoch = runner.iter // len(runner.train_dataloader)
        self._coke_head(runner).set_epoch(epoch)
        if epoch < self.zero_lr_epochs:
            groups = runner.optim_wrapper.param_groups
            self._saved_lrs = [g['lr'] for g in groups]
            for g in groups:
                g['lr'] = 0.

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self._saved_lrs is not None:
            for g, lr in zip(runner.optim_wrapper.param_groups, self._saved_lrs):
                g['lr'] = lr
            self._saved_lrs = None
