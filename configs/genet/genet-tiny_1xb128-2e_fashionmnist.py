# A narrow GENet (same XX / BL / DW block types and stage order as the paper, widths /8) trained
# from scratch on Fashion-MNIST (28x28 grey) for 2 epochs on CPU. Stage strides are chosen for
# 28x28 inputs: 14 -> 14 -> 7 -> 4 -> 4 -> 4.
_base_ = [
    '../_base_/datasets/fashion_mnist.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmext.GENet',
        arch=dict(
            stem_channels=16,
            stages=[['XX', 16, 3, 1, 1.0, 1], ['XX', 32, 3, 2, 1.0, 1],
                    ['BL', 64, 3, 2, 0.25, 2], ['DW', 96, 3, 1, 3.0, 1],
                    ['DW', 96, 3, 1, 3.0, 1]],
            last_channels=256),
        in_channels=1),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=256,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, loss_weight=1.0)))

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-5, nesterov=True))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=1, convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=2, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=128)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=100),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=1, save_best='auto'))
randomness = dict(seed=0, deterministic=False)
