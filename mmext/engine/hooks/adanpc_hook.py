"""Fills the AdaNPC memory from the training data before validation / test (arXiv 2304.12566)."""
from typing import Optional, Union

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner
from torch.utils.data import DataLoader

from mmext.registry import HOOKS

__all__ = ['AdaNPCMemoryHook']


@HOOKS.register_module()
class AdaNPCMemoryHook(Hook):
    """Rebuild the source memory of :class:`mmext.AdaNPCHead` before every val / test run.

    From "AdaNPC: Exploring Non-Parametric Classifier for Test-Time Adaptation" (Zhang et al.,
    ICML 2023, arXiv 2304.12566): the kNN memory starts as the features and labels of the
    training domain. A hook (rather than an offline tool) keeps ``tools/train.py`` and
    ``tools/test.py`` unchanged and restarts adaptation from the source memory at each evaluation,
    so the accuracy of one run does not depend on the previous ones. Features come from the
    model's own ``extract_feat`` + ``head.pre_logits`` in eval mode.

    Args:
        dataloader (dict | DataLoader, optional): Loader of the source samples; a config is
            built with ``Runner.build_dataloader``. Use the training split with the *test*
            pipeline (no augmentation). None uses the runner's ``train_dataloader``.
            Defaults to None.
        max_samples (int, optional): Stop after this many source samples (a cheaper memory).
            None uses the whole loader. Defaults to None.
    """

    priority = 'NORMAL'

    def __init__(self,
                 dataloader: Optional[Union[dict, DataLoader]] = None,
                 max_samples: Optional[int] = None) -> None:
        if max_samples is not None and max_samples < 1:
            raise ValueError(f'"max_samples" must be >= 1, got {max_samples}')
        self.dataloader = dataloader
        self.max_samples = max_samples

    def _get_loader(self, runner: Runner) -> DataLoader:
        if self.dataloader is None:
            return runner.train_dataloader
        if isinstance(self.dataloader, dict):
            # built once and reused by later evaluations
            self.dataloader = runner.build_dataloader(self.dataloader, seed=runner.seed)
        return self.dataloader

    @torch.no_grad()
    def fill_memory(self, runner: Runner) -> None:
        """Reset the head's memory and fill it with source features."""
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        head = getattr(model, 'head', None)
        if head is None or not hasattr(head, 'add_to_memory'):
            raise TypeError('AdaNPCMemoryHook needs a model whose "head" is mmext.AdaNPCHead, '
                            f'got {type(head).__name__}')
        was_training = model.training
        model.eval()
        head.reset_memory()
        seen = 0
        for data in self._get_loader(runner):
            data = model.data_preprocessor(data, False)
            feats = head.pre_logits(model.extract_feat(data['inputs']))
            labels = torch.cat([s.gt_label for s in data['data_samples']])
            if self.max_samples is not None:
                feats = feats[:self.max_samples - seen]
                labels = labels[:self.max_samples - seen]
            head.add_to_memory(feats, labels, source=True)
            seen += feats.size(0)
            if self.max_samples is not None and seen >= self.max_samples:
                break
        model.train(was_training)
        runner.logger.info(f'AdaNPC memory filled with {seen} source samples')

    def before_val_epoch(self, runner: Runner) -> None:
        self.fill_memory(runner)

    def before_test_epoch(self, runner: Runner) -> None:
        self.fill_memory(runner)
