"""Exact resume: a run resumed at an epoch boundary ends with the weights of an uninterrupted
run, random augmentation (RandomCrop, RandomFlip) in dataloader workers included."""
import shutil

import pytest
import torch

from mmext.engine.hooks.epoch_seed_hook import epoch_seed

CFG = 'configs/baselines/resnet18-w16_1xb128-3e_fashionmnist.py'


@pytest.fixture(scope='module')
def train_py(load_tool):
    return load_tool('train.py')


def options(data_root, epochs, name):
    # 64 samples in batches of 16: 4 iterations per epoch; one persistent augmenting worker
    return ['--cfg-options', f'experiment_name={name}', f'train_cfg.max_epochs={epochs}',
            'train_dataloader.batch_size=16', 'train_dataloader.dataset.indices=64',
            f'train_dataloader.dataset.data_root={data_root}', 'train_dataloader.num_workers=1',
            'train_dataloader.persistent_workers=True', 'randomness.seed=3',
            'randomness.deterministic=True', 'default_hooks.checkpoint.interval=1',
            'default_hooks.checkpoint.max_keep_ckpts=3']


def weights(path):
    return torch.load(path, map_location='cpu', weights_only=False)['state_dict']


def test_resumed_run_ends_with_the_same_weights(tmp_path, tiny_fashion_mnist, train_py):
    straight, resumed = tmp_path / 'straight', tmp_path / 'resumed'
    train_py.main([CFG, '--work-dir', str(straight), '--no-validate',
                   *options(tiny_fashion_mnist, 3, 'straight')])
    # the same run, interrupted after epoch 1 and resumed from its checkpoint
    resumed.mkdir()
    shutil.copy(straight / 'epoch_1.pth', resumed / 'epoch_1.pth')
    train_py.main([CFG, '--work-dir', str(resumed), '--no-validate', '--resume',
                   str(resumed / 'epoch_1.pth'), *options(tiny_fashion_mnist, 3, 'resumed')])
    a, b = weights(straight / 'epoch_3.pth'), weights(resumed / 'epoch_3.pth')
    assert a.keys() == b.keys()
    diff = max((a[k].float() - b[k].float()).abs().max().item() for k in a)
    assert diff == 0
    # and training did change the weights after the resume point
    start = weights(straight / 'epoch_1.pth')
    assert max((a[k].float() - start[k].float()).abs().max().item() for k in a) > 0
    # every epoch has a seed of its own
    assert len({epoch_seed(3, epoch) for epoch in range(3)}) == 3
