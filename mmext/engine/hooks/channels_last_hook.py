"""Train and evaluate a convolutional network in channels-last memory layout."""
import torch
from mmengine.hooks import Hook

from mmext.registry import HOOKS

__all__ = ['ChannelsLastHook']


@HOOKS.register_module()
class ChannelsLastHook(Hook):
    """Store the model's 4-d weights and buffers in channels-last (NHWC) layout.

    oneDNN on CPU and cuDNN on GPU run convolutions faster on NHWC tensors (no layout reorder
    before and after every convolution); a convolution whose weight is NHWC returns NHWC, so the
    whole network follows without converting the inputs. Only the layout changes: values,
    parameter objects (the optimizer's references) and checkpoints stay the same, so a run with
    the hook resumes from one without it and vice versa.

    Converts in ``before_train`` / ``before_test``, i.e. after the runner initialised the
    weights and loaded or resumed a checkpoint: weight initialisers fill a tensor in memory
    order, so an NHWC tensor filled at ``before_run`` would get other values than the default
    run for the same seed.
    """

    priority = 'VERY_HIGH'

    def _convert(self, runner) -> None:
        runner.model.to(memory_format=torch.channels_last)

    before_train = before_test = _convert
