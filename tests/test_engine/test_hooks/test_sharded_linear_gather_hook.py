from types import SimpleNamespace

import torch
from mmengine.hooks import CheckpointHook

from mmext.engine.hooks import ShardedLinearGatherHook
from mmext.models.layers import ShardedLinear


def _runner(epoch, max_epochs=6, world_size=2, interval=3):
    model = torch.nn.Module()
    model.fc = ShardedLinear(4, 2)
    calls = []
    model.fc.gather_full = lambda: calls.append(epoch)
    ckpt = CheckpointHook(interval=interval, by_epoch=True)
    # CheckpointHook.every_n_epochs / is_last_train_epoch read runner.epoch / max_epochs
    runner = SimpleNamespace(model=model, world_size=world_size, hooks=[ckpt], epoch=epoch,
                             max_epochs=max_epochs,
                             train_loop=SimpleNamespace(max_epochs=max_epochs))
    return runner, calls


def test_gathers_exactly_when_a_checkpoint_is_saved():
    gathered = []
    for epoch in range(6):  # after_train_epoch runs before runner.epoch is incremented
        runner, calls = _runner(epoch)
        ShardedLinearGatherHook().after_train_epoch(runner)
        gathered += calls
    assert gathered == [2, 5]  # the checkpoints of epochs 3 and 6 (interval 3)
    runner, calls = _runner(2, world_size=1)  # a single process: nothing to gather
    ShardedLinearGatherHook().after_train_epoch(runner)
    assert calls == []
