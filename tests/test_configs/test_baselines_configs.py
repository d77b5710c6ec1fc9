"""The fast main-job recipe: only the input pipeline, loaders, layout and length change."""
import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import TRANSFORMS

BASE = 'configs/baselines/resnet18-w16_1xb128-3e_fashionmnist.py'
FAST = 'configs/baselines/resnet18-w16_1xb128-nhwc-5e_fashionmnist.py'


def test_fast_recipe_keeps_the_model_and_optimiser():
    base, fast = Config.fromfile(BASE), Config.fromfile(FAST)
    for key in ('model', 'optim_wrapper', 'param_scheduler', 'auto_scale_lr', 'randomness'):
        assert fast[key] == base[key], key
    assert fast.train_cfg.max_epochs == 5 and base.train_cfg.max_epochs == 3
    assert [t['type'] for t in fast.train_dataloader.dataset.pipeline] == [
        'RandomFlip', 'PackInputs']
    assert fast.train_dataloader.num_workers == fast.val_dataloader.num_workers == 0
    assert fast.custom_hooks == [dict(type='mmext.ChannelsLastHook')]


def test_fast_recipe_trains_in_channels_last(tmp_path, tiny_fashion_mnist, load_tool):
    work = tmp_path / 'fast'
    load_tool('train.py').main([
        FAST, '--work-dir', str(work), '--cfg-options', 'train_cfg.max_epochs=1',
        'train_dataloader.batch_size=16', 'train_dataloader.dataset.indices=32',
        f'train_dataloader.dataset.data_root={tiny_fashion_mnist}',
        f'val_dataloader.dataset.data_root={tiny_fashion_mnist}'])
    state = torch.load(work / 'epoch_1.pth', map_location='cpu', weights_only=False)
    weight = state['state_dict']['backbone.layer1.0.conv1.weight']
    assert weight.is_contiguous(memory_format=torch.channels_last)
    assert not weight.is_contiguous()
    assert state['meta']['epoch'] == 1


def test_long_recipe_is_the_fast_one_with_crops_and_40_epochs():
    fast = Config.fromfile(FAST)
    long = Config.fromfile('configs/baselines/resnet18-w16_1xb128-nhwc-40e_fashionmnist.py')
    for key in ('model', 'optim_wrapper', 'param_scheduler', 'custom_hooks'):
        assert long[key] == fast[key], key
    assert long.train_cfg.max_epochs == 40
    assert [t['type'] for t in long.train_dataloader.dataset.pipeline] == [
        'RandomCrop', 'RandomFlip', 'PackInputs']
    assert long.train_dataloader.num_workers == 0


def test_erasing_recipe_erases_grey_images():
    long = Config.fromfile('configs/baselines/resnet18-w16_1xb128-nhwc-40e_fashionmnist.py')
    erase = Config.fromfile(
        'configs/baselines/resnet18-w16_1xb128-nhwc-erase-40e_fashionmnist.py')
    for key in ('model', 'optim_wrapper', 'param_scheduler', 'custom_hooks', 'train_cfg'):
        assert erase[key] == long[key], key
    pipeline = erase.train_dataloader.dataset.pipeline
    assert pipeline[:2] == long.train_dataloader.dataset.pipeline[:2]
    assert pipeline[2].transforms[0].erase_prob == 0.5

    init_default_scope('mmpretrain')
    step = TRANSFORMS.build(pipeline[2])
    step.transforms.transforms[0].erase_prob = 1.0
    np.random.seed(0)
    img = np.full((28, 28), 7, np.uint8)
    img.setflags(write=False)  # as mmpretrain's MNIST hands images out
    out = step(dict(img=img))['img']
    assert out.shape == (28, 28) and out.dtype == np.uint8
    erased = out != 7
    # one rectangle of 2-40% of the image (a few random pixels may equal 7)
    rows, cols = np.nonzero(erased)
    box = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
    assert 0.02 * 784 * 0.9 <= erased.sum() <= box <= 0.4 * 784 * 1.05


def test_60_epoch_erasing_recipe_only_lengthens_the_schedule():
    erase = Config.fromfile(
        'configs/baselines/resnet18-w16_1xb128-nhwc-erase-40e_fashionmnist.py').to_dict()
    longer = Config.fromfile(
        'configs/baselines/resnet18-w16_1xb128-nhwc-erase-60e_fashionmnist.py').to_dict()
    assert longer.pop('train_cfg') == dict(erase.pop('train_cfg'), max_epochs=60)
    assert longer == erase
    # the cosine decay has no fixed end, so it spans the 60 epochs
    assert 'end' not in longer['param_scheduler'][1]
