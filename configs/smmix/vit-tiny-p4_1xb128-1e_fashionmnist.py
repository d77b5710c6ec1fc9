# Baseline for the SMMix comparison on Fashion-MNIST: a 4-layer ViT (width 64, 4 heads, 4x4-pixel
# patches on the 28x28 grey images -> 7x7 tokens) trained from scratch with DeiT's batch mixing
# (Mixup 0.8 / CutMix 1.0, one of the two per batch) and label smoothing 0.1, 1 epoch.
_base_ = [
    '../_base_/models/vit-tiny-p4_fashionmnist.py',
    '../_base_/datasets/fashion_mnist.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    backbone=dict(drop_path_rate=0.0),
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]))

max_epochs = 1
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            '.cls_token': dict(decay_mult=0.0),
            '.pos_embed': dict(decay_mult=0.0)
        }),
    clip_grad=dict(max_norm=5.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=20),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs, eta_min=1e-5,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', interval=max_epochs))
randomness = dict(seed=0)
