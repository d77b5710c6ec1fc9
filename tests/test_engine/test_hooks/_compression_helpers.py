"""A stand-in for mmengine's Runner and a tiny model, shared by the compression hook tests."""
import torch
import torch.nn as nn
from mmengine.logging import MessageHub
from mmengine.registry import init_default_scope


class FakeRunner:
    """The attributes the compression hooks read, plus a real SGD step on random data."""

    def __init__(self, model, max_epochs=4, iters_per_epoch=5, lr=0.05, weight_decay=1e-3):
        self.model = model
        self.epoch = 0
        self.iter = 0
        self.max_epochs = max_epochs
        self.train_dataloader = [None] * iters_per_epoch
        self.max_iters = max_epochs * iters_per_epoch
        self.message_hub = MessageHub.get_instance('compression_hook_test')
        self.optimizer = torch.optim.SGD(
            [p for p in model.parameters()], lr=lr, momentum=0.9, weight_decay=weight_decay)

    def step(self):
        x = torch.randn(8, 1, 12, 12)
        y = torch.randint(0, 4, (8, ))
        loss = nn.functional.cross_entropy(self.model(x, mode='tensor'), y)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()

    def train(self, hook, epochs=None):
        """Run the train-loop hook points of ``hook`` around real optimizer steps."""
        hook.before_train(self)
        for _ in range(epochs or self.max_epochs):
            hook.before_train_epoch(self)
            for i in range(len(self.train_dataloader)):
                hook.before_train_iter(self, i, None)
                self.step()
                hook.after_train_iter(self, i, None, None)
                self.iter += 1
            hook.after_train_epoch(self)
            self.epoch += 1
        hook.after_train(self)


def tiny_classifier(replace=None):
    """A 2-stage CIFAR ResNet classifier on 1-channel 12x12 inputs, optionally compressed."""
    init_default_scope('mmpretrain')
    from mmpretrain.registry import MODELS
    model = dict(
        type='ImageClassifier',
        backbone=dict(type='mmext.CIFARResNet', stage_blocks=(1, 1), in_channels=1,
                      stem_channels=8, base_channels=8),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=4, in_channels=16,
                  loss=dict(type='CrossEntropyLoss')))
    if replace is not None:
        model = dict(type='mmext.CompressedModel', model=model, replace=replace)
    torch.manual_seed(0)
    return MODELS.build(model)
