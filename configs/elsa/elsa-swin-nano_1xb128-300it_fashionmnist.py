# A tiny ELSA-Swin (ELSA stages 0-2 + one Swin stage, widths 24-192) trained from scratch on
# Fashion-MNIST for 300 iterations (0.64 epoch, batch 128) on a shared CPU. 28x28 inputs:
# patch size 2 gives 14/7/4/2 maps; the ELSA kernel is 5 and the Swin window 2 (the size of the
# last map) to suit the small maps.
_base_ = [
    '../_base_/datasets/fashion_mnist.py',
    'mmpretrain::_base_/default_runtime.py',
]

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmext.ELSASwin',
        arch=dict(embed_dims=24, depths=[1, 1, 2, 1], num_heads=[1, 2, 4, 8], group_width=8),
        in_channels=1,
        patch_size=2,
        elsa_kernel=5,
        window_size=2,
        drop_path_rate=0.05),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=192,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, loss_weight=1.0)))

optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.05),
    clip_grad=dict(max_norm=5.0),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0, custom_keys={
        '.relative_position_bias_table': dict(decay_mult=0.0),
        '.ghost_add': dict(decay_mult=0.0),
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
