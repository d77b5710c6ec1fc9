import logging
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
from mmpretrain.models import ImageClassifier
from mmpretrain.structures import DataSample

from mmext.engine.hooks import AdaNPCMemoryHook
from mmext.models.heads import AdaNPCHead


class TinyBackbone(nn.Module):

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 4)

    def forward(self, x):
        return (self.fc(x.flatten(1)), )


def make_runner(loader):
    model = ImageClassifier(
        backbone=TinyBackbone(),
        head=dict(type='mmext.AdaNPCHead', num_classes=3, in_channels=4, k=2),
        data_preprocessor=dict(type='ClsDataPreprocessor', num_classes=3))
    return SimpleNamespace(
        model=model, train_dataloader=loader, logger=logging.getLogger('test'), seed=0,
        build_dataloader=None)


def make_loader(num_batches=3, batch=4):
    torch.manual_seed(0)
    loader = []
    for b in range(num_batches):
        loader.append(
            dict(
                inputs=[torch.randn(1, 4, 4) for _ in range(batch)],
                data_samples=[DataSample().set_gt_label((b + i) % 3) for i in range(batch)]))
    return loader


def test_fills_memory_with_model_features():
    loader = make_loader()
    runner = make_runner(loader)
    runner.model.train()
    hook = AdaNPCMemoryHook(max_samples=10)
    hook.before_val_epoch(runner)
    head = runner.model.head
    assert head.memory_size == 10 and head.num_source == 10
    assert runner.model.training  # mode restored
    runner.model.eval()
    with torch.no_grad():
        data = runner.model.data_preprocessor(loader[0], False)
        feats = runner.model.extract_feat(data['inputs'])[-1]
    assert torch.allclose(head.memory_feats[:4], nn.functional.normalize(feats, dim=1), atol=1e-6)
    labels = torch.cat([s.gt_label for batch in loader for s in batch['data_samples']])[:10]
    assert head.memory_labels.tolist() == labels.tolist()
    # test-time additions are dropped when the memory is rebuilt before the next test
    head.add_to_memory(torch.randn(2, 4), torch.tensor([0, 1]), source=False)
    hook.before_test_epoch(runner)
    assert head.memory_size == 10


def test_errors():
    with pytest.raises(ValueError, match='"max_samples" must be >= 1'):
        AdaNPCMemoryHook(max_samples=0)
    runner = make_runner(make_loader())
    runner.model.head = nn.Linear(4, 3)
    with pytest.raises(TypeError, match='mmext.AdaNPCHead'):
        AdaNPCMemoryHook().before_val_epoch(runner)
    assert AdaNPCHead  # imported for the registry
