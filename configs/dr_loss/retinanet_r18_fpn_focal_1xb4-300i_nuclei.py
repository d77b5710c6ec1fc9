# Focal-loss RetinaNet baseline for the DR-loss comparison on the nuclei tiles (1 class).
# A small from-scratch model (no weights can be downloaded here): ResNet-18, 64-channel FPN with
# 3 levels (strides 8-32, the nuclei are ~46 px after the 2x resize), 2 stacked head convs.
# Short iteration schedule that fits the shared CPU machine.
_base_ = [
    'mmdet::_base_/models/retinanet_r50_fpn.py',
    '../_base_/datasets/nuclei_detection.py',
    'mmdet::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        depth=18,
        frozen_stages=-1,
        norm_eval=False,  # trained from scratch: BN statistics must be learnt
        init_cfg=None),
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=64, num_outs=3),
    bbox_head=dict(
        num_classes=1,
        in_channels=64,
        stacked_convs=2,
        feat_channels=64,
        anchor_generator=dict(strides=[8, 16, 32])))

max_iters = 300
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
    clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=50, eta_min=1e-5),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters))
log_processor = dict(by_epoch=False)
