"""mmext.CheckInvalidLossHook: the first non-finite loss term stops training with a message.

The end-to-end run (lr=1e6 through tools/train.py, nothing saved) is in
tests/test_tools/test_train.py::test_diverging_run_stops_at_the_first_nan.
"""
from types import SimpleNamespace

import pytest
import torch
from mmdet.engine.hooks import CheckInvalidLossHook as MMDetCheckInvalidLossHook

from mmext.engine.hooks import CheckInvalidLossHook, NonFiniteLossError


def test_stops_at_the_first_non_finite_term_and_names_it():
    hook = CheckInvalidLossHook()
    assert isinstance(hook, MMDetCheckInvalidLossHook) and hook.interval == 1
    runner = SimpleNamespace(iter=6, epoch=1)
    finite = {'loss': torch.tensor(2.5), 'loss_cls': torch.tensor(1.0), 'acc': torch.tensor(9.)}
    hook.after_train_iter(runner, 2, outputs=finite)  # nothing happens
    diverged = {'loss': torch.tensor(float('nan')), 'loss_cls': torch.tensor(float('inf')),
                'loss_bbox': torch.tensor(0.5), 'acc': torch.tensor(float('nan'))}
    with pytest.raises(NonFiniteLossError) as exc:
        hook.after_train_iter(runner, 2, outputs=diverged)
    message = str(exc.value)
    assert 'iteration 7 (epoch 2, batch 3)' in message
    assert 'loss, loss_cls (loss=nan, loss_cls=inf, loss_bbox=0.5)' in message
    assert 'acc' not in message  # only loss terms are checked and listed


def test_interval_skips_iterations():
    hook = CheckInvalidLossHook(interval=4)
    nan = {'loss': torch.tensor(float('nan'))}
    hook.after_train_iter(SimpleNamespace(iter=2, epoch=0), 2, outputs=nan)  # not checked
    with pytest.raises(NonFiniteLossError):
        hook.after_train_iter(SimpleNamespace(iter=3, epoch=0), 3, outputs=nan)
