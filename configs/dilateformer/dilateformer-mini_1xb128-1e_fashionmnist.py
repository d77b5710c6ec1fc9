# A small DilateFormer that trains on this 2-core CPU: Fashion-MNIST (28x28 grey, in_channels=1),
# stage widths 24/48/96/192, one block per stage (MSDA in stages 0-1 at 7x7 and 4x4 tokens,
# global attention at 2x2 and 1x1), 1 epoch, AdamW + cosine.
_base_ = [
    '../_base_/datasets/fashion_mnist.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmext.DilateFormer',
        arch=dict(embed_dims=24, depths=[1, 1, 1, 1], num_heads=[3, 3, 6, 6]),
        in_channels=1,
        stem_channels=8,
        drop_path_rate=0.0),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=192,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)),
)

optim_wrapper = dict(optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.05),
                     paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    # from iteration 100 of the 469 of a full epoch (0.2133 x 469 = 100.04) to the end; in
    # epochs so that a shorter epoch (fewer samples) shrinks it
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=0.2133,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=1, val_interval=1)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(logger=dict(interval=50), checkpoint=dict(interval=1, max_keep_ckpts=1))
