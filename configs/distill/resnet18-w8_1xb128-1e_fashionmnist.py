# Student of the small Fashion-MNIST distillation pairs, trained alone: a CIFAR-style ResNet-18
# at half the project baseline's width (widths 8-64, 0.18M params), 1 epoch on a 10k-image
# subset (CPU budget). The distillation configs reuse this model and schedule unchanged.
_base_ = ['../baselines/resnet18-w16_1xb128-3e_fashionmnist.py']

model = dict(
    backbone=dict(stem_channels=8, base_channels=8),
    head=dict(in_channels=64))
train_dataloader = dict(dataset=dict(indices=10000))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=20),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=1)
default_hooks = dict(logger=dict(interval=20))
