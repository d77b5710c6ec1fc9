# A tiny PSLT (stem width 12, one MV2 block per conv stage, 2 + 1 ladder blocks) trained from
# scratch on Fashion-MNIST for 300 iterations (0.64 epoch, batch 128) on a shared CPU. 28x28
# inputs: the stem keeps the resolution (stem_stride=1) so the ladder stages see 4x4 and 2x2
# maps, with 2x2 windows.
_base_ = [
    '../_base_/datasets/fashion_mnist.py',
    'mmpretrain::_base_/default_runtime.py',
]

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmext.PSLT',
        arch=dict(embed_dims=12, conv_depths=[1, 1], depths=[2, 1], num_heads=[2, 4]),
        in_channels=1,
        stem_stride=1,
        window_size=2,
        drop_path_rate=0.05),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=192,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, loss_weight=1.0)))

optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.025),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0, custom_keys={
        '.relative_position_bias_table': dict(decay_mult=0.0),
    }))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=30),
    dict(type='CosineAnnealingLR', T_max=270, by_epoch=False, begin=30, end=300),
]
train_cfg = dict(by_epoch=False, max_iters=300, val_interval=300)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=128)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=300, max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
randomness = dict(seed=0, deterministic=False)
