"""AdaNPC configs: train a few steps, then test with the memory hook and the shifted test set."""
from pathlib import Path

import torch
from mmengine.config import Config
from mmengine.runner import Runner

import mmext  # noqa: F401
from mmext.datasets.transforms import DomainShift
from mmext.engine.hooks import AdaNPCMemoryHook
from mmext.models.heads import AdaNPCHead

ROOT = Path(__file__).parents[2]
SHIFT = 'configs/adanpc/adanpc_resnet18-w16_1xb128-1e_fashionmnist-shift.py'


def _small(loader, n):
    loader.dataset.indices = n
    loader.batch_size = 8
    loader.num_workers = 0
    loader.persistent_workers = False


def test_shift_config_trains_and_adapts(fashion_mnist_root, tmp_path):
    cfg = Config.fromfile(ROOT / SHIFT)
    assert cfg.custom_imports['imports'] == ['mmext'] and cfg.default_scope == 'mmpretrain'
    assert cfg.test_dataloader.dataset.pipeline[0]['type'] == 'mmext.DomainShift'
    assert cfg.val_dataloader.dataset.pipeline[0]['type'] == 'PackInputs'
    cfg.work_dir = str(tmp_path)
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        _small(cfg[name], 16)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.train_cfg.max_epochs = 1
    cfg.param_scheduler = None
    cfg.default_hooks.checkpoint = None
    cfg.custom_hooks[0].max_samples = 16
    _small(cfg.custom_hooks[0].dataloader, 16)
    cfg.model.head.k = 5
    runner = Runner.from_cfg(cfg)
    fc_before = runner.model.head.fc.weight.detach().clone()
    runner.train()  # 2 optimizer steps
    assert not torch.equal(fc_before, runner.model.head.fc.weight)
    metrics = runner.test()
    head = runner.model.head
    assert isinstance(head, AdaNPCHead)
    assert any(isinstance(h, AdaNPCMemoryHook) for h in runner.hooks)
    assert head.num_source == 16 and head.memory_size >= 16
    assert 0 <= metrics['accuracy/top1'] <= 100
    shift = [t for t in runner.test_dataloader.dataset.pipeline.transforms
             if isinstance(t, DomainShift)]
    assert shift and shift[0].rotate == 30.


def test_mild_shift_config():
    from mmext.registry import TRANSFORMS
    cfg = Config.fromfile(
        ROOT / 'configs/adanpc/adanpc_resnet18-w16_1xb128-1e_fashionmnist-mildshift.py')
    shift = TRANSFORMS.build(cfg.test_dataloader.dataset.pipeline[0])
    assert (shift.rotate, shift.noise_std, shift.contrast) == (10., 15., 1.)
    assert cfg.model.head.type == 'mmext.AdaNPCHead'
