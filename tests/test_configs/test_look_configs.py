"""LOOK configs (configs/look): the ImageNet mirror builds and forwards, the Fashion-MNIST pair
(LOOK and its cross-entropy baseline) trains two iterations on real images."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmext  # noqa: F401

# sibling module of this file (pytest puts this folder on sys.path)
from _config_checks import tiny_probe_run_cfg

CONFIG_DIR = Path(__file__).parents[2] / 'configs' / 'look'
FM = 'resnet8-w16_1xb128-1200it_fashionmnist-split5.py'


def test_imagenet_mirror_builds_and_forwards():
    cfg = Config.fromfile(CONFIG_DIR / 'look_resnet50_8xb32-100e_in1k.py')
    head = cfg.model.head
    assert head.memory_size == 1281167 and head.loss.k == 200
    assert cfg.train_cfg.max_epochs == 100 and cfg.optim_wrapper.optimizer.lr == 0.1
    head.memory_size = 16  # the 1.28M-slot bank (656 MB) is not needed to forward
    init_default_scope('mmpretrain')
    model = MODELS.build(cfg.model)
    assert [m.out_features for m in model.head.proj if hasattr(m, 'out_features')] == [2048, 128]
    samples = [DataSample(metainfo=dict(sample_idx=i)).set_gt_label(c)
               for i, c in enumerate((3, 3, 999))]
    losses = model(torch.randn(3, 3, 64, 64), samples, mode='loss')
    assert torch.isfinite(losses['loss']) and losses['loss'] > 0
    assert model.head.memory_labels[:3].tolist() == [3, 3, 999]


@pytest.mark.parametrize('arm', ['look', 'ce'])
def test_fashionmnist_config_trains_two_iterations(arm, tiny_fashion_mnist, tmp_path):
    cfg = tiny_probe_run_cfg(CONFIG_DIR / f'{arm}_{FM}', tiny_fashion_mnist, tmp_path)
    assert cfg.train_dataloader.dataset.keep_classes == [0, 1, 2, 3, 4]
    runner = Runner.from_cfg(cfg)
    before = runner.model.backbone.conv1.weight.detach().clone()
    runner.train()
    assert not torch.equal(before, runner.model.backbone.conv1.weight)
    # the probe sees only held-out classes (5-9, relabelled 0-4)
    bank = runner.val_loop.bank_dataloader.dataset
    assert set(bank.ori_labels.tolist()) <= {5, 6, 7, 8, 9} and bank.get_gt_labels().max() <= 4
    metrics = runner.val_loop.run()
    assert set(metrics) == {'knn/top1', 'linear/top1'}
    head = runner.model.head
    assert head.num_classes == 5
    if arm == 'look':
        # 16 training samples written into their slots, with labels 0-4 only
        filled = head.memory_labels[head.memory_labels >= 0]
        assert 0 < filled.numel() <= 16 and filled.max() <= 4


def test_fashionmnist_evaluation_uses_the_heldout_classes():
    cfg = Config.fromfile(CONFIG_DIR / f'look_{FM}')
    assert cfg.val_cfg.type == 'mmext.FeatureProbeValLoop'
    bank = cfg.val_cfg.bank_dataloader.dataset
    val = cfg.val_dataloader.dataset
    assert bank.keep_classes == val.keep_classes == [5, 6, 7, 8, 9]
    assert val.dataset.test_mode and [t['type'] for t in bank.dataset.pipeline] == ['PackInputs']
    assert cfg.val_evaluator.linear_probe
