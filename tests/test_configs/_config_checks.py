"""Helpers shared by the classification config tests (imported as a sibling module)."""
from pathlib import Path
from typing import Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmext  # noqa: F401


def build_classifier(path: Union[str, Path]) -> Tuple[Config, nn.Module]:
    """The config at ``path`` and its model, built the way the host tools build it."""
    cfg = Config.fromfile(str(path))
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    return cfg, MODELS.build(cfg.model)


def train_steps(model: nn.Module, x: torch.Tensor, labels: Sequence[int],
                steps: int = 2) -> torch.Tensor:
    """Take ``steps`` SGD steps on ``(x, labels)``; return the last loss, checked finite."""
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    samples = [DataSample().set_gt_label(label) for label in labels]
    for _ in range(steps):
        loss = model(x, samples, mode='loss')['loss']
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert torch.isfinite(loss)
    return loss


def tiny_train_cfg(path: Union[str, Path], work_dir: Union[str, Path], images: int = 32,
                   batch_size: int = 16) -> Config:
    """The config at ``path`` cut down to one epoch on its first ``images`` training images
    (no workers, no LR schedule, no validation / test), checkpointing that epoch."""
    cfg = Config.fromfile(str(path))
    cfg.work_dir = str(work_dir)
    cfg.train_dataloader.dataset.indices = images
    cfg.train_dataloader.batch_size = batch_size
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    cfg.train_cfg = dict(by_epoch=True, max_epochs=1, val_interval=10)
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1)
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.test_dataloader = cfg.test_cfg = cfg.test_evaluator = None
    return cfg


def tiny_probe_run_cfg(path: Union[str, Path], data_root: Union[str, Path],
                       work_dir: Union[str, Path], num_images: int = 64) -> Config:
    """A Fashion-MNIST config shrunk to 2 training iterations of batch 8 and a feature probe
    on ``num_images`` images of each set, all read from ``data_root`` (e.g. the
    ``tiny_fashion_mnist`` fixture), without workers, schedulers or checkpoints."""
    cfg = Config.fromfile(str(path))
    cfg.work_dir = str(work_dir)

    def shrink(node):
        if isinstance(node, dict):
            if 'data_root' in node:
                node['data_root'] = str(data_root)
                node['indices'] = num_images
            for value in node.values():
                shrink(value)

    loaders = [cfg.train_dataloader, cfg.val_dataloader, cfg.val_cfg.bank_dataloader]
    for loader in loaders:
        shrink(loader.dataset)
        loader.batch_size = 8
        loader.num_workers = 0
        loader.persistent_workers = False
    cfg.train_cfg.max_iters = cfg.train_cfg.val_interval = 2
    cfg.val_evaluator.knn_k = 5
    for key in ('test_cfg', 'test_dataloader', 'test_evaluator', 'param_scheduler'):
        cfg[key] = None
    cfg.default_hooks.checkpoint = None
    return cfg
