# Dense reference for the compression configs that train here (ReSTE, LTS, LBC, GaP inherit it):
# a CIFAR-style ResNet-8 (3x3 stem, 3 stages of 1 basic block, widths 16-32-64, 78k params) on
# 1-channel 28x28 Fashion-MNIST, 4 epochs of 100 iterations (the first 12,800 training images)
# so that a run stays under ~8 minutes on a shared 2-core CPU.
_base_ = [
    '../_base_/datasets/fashion_mnist.py',
    'mmpretrain::_base_/default_runtime.py',
]

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmext.CIFARResNet', stage_blocks=(1, 1, 1), in_channels=1, stem_channels=16,
        base_channels=16),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead', num_classes=10, in_channels=64,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))

train_dataloader = dict(dataset=dict(indices=12800))

max_epochs = 4
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=1, convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict()
test_cfg = dict()

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=25),
    checkpoint=dict(type='CheckpointHook', interval=max_epochs, max_keep_ckpts=1))
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
randomness = dict(seed=0, deterministic=False)
