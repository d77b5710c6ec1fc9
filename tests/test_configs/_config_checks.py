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
