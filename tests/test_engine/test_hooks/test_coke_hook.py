from types import SimpleNamespace

import pytest
import torch

from mmext.engine.hooks import CoKeHook
from mmext.models.heads import CoKeHead


def _runner(model, it, iters_per_epoch=5, lr=0.1):
    optim = SimpleNamespace(param_groups=[dict(lr=lr), dict(lr=lr / 10)])
    return SimpleNamespace(model=model, iter=it, train_dataloader=[None] * iters_per_epoch,
                           optim_wrapper=optim)


def test_rolls_centres_at_epoch_boundaries():
    model = torch.nn.Module()
    model.head = CoKeHead(num_instances=8, num_clusters=(2, ), feat_dim=3)
    hook = CoKeHook(zero_lr_epochs=0)
    hook.before_train_iter(_runner(model, 4), 4)
    assert int(model.head.epoch) == 0
    model.head.centres_cur_0.fill_(0.5)
    model.head.counts_0.fill_(3.)
    hook.before_train_iter(_runner(model, 5), 0)  # first iteration of epoch 1
    assert int(model.head.epoch) == 1
    assert torch.equal(model.head.centres_prev_0, model.head.centres_cur_0)
    assert model.head.counts_0.sum() == 0
    hook.before_train_iter(_runner(model, 6), 1)  # no second roll within the epoch
    assert int(model.head.epoch) == 1


def test_first_epoch_has_zero_learning_rate():
    model = torch.nn.Module()
    model.head = CoKeHead(num_instances=8, num_clusters=(2, ), feat_dim=3)
    hook = CoKeHook()  # official: lr 0 in epoch 0
    runner = _runner(model, 4)
    hook.before_train_iter(runner, 4)
    assert [g['lr'] for g in runner.optim_wrapper.param_groups] == [0., 0.]
    hook.after_train_iter(runner, 4)  # restored before the schedulers step
    assert [g['lr'] for g in runner.optim_wrapper.param_groups] == [0.1, 0.01]
    runner = _runner(model, 5)
    hook.before_train_iter(runner, 0)
    assert [g['lr'] for g in runner.optim_wrapper.param_groups] == [0.1, 0.01]
    with pytest.raises(ValueError, match='zero_lr_epochs'):
        CoKeHook(zero_lr_epochs=-1)


def test_wrong_head_path():
    model = torch.nn.Module()
    model.head = torch.nn.Linear(2, 2)
    with pytest.raises(TypeError, match='CoKeHead'):
        CoKeHook().before_train_iter(_runner(model, 0), 0)
