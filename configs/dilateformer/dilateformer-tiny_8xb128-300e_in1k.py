# DilateFormer-Tiny on ImageNet-1k, the official recipe (JIAOJIAYUASD/dilateformer, DeiT-based):
# 8 GPUs x 128 images, AdamW lr 1e-3 * 1024 / 512 = 2e-3 (their linear scaling), weight decay
# 0.05 (none on norms / biases), 300 epochs, 10 warm-up epochs, cosine to 1e-5, drop path 0.1,
# DeiT augmentation (RandAugment, random erasing 0.25, Mixup 0.8, CutMix 1.0, label smoothing 0.1).
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py',
    'mmpretrain::_base_/schedules/imagenet_bs1024_adamw_swin.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(type='mmext.DilateFormer', arch='tiny', drop_path_rate=0.1),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=576,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=.02, bias=0.)),
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8),
                             dict(type='CutMix', alpha=1.0)]),
)

train_dataloader = dict(batch_size=128)

optim_wrapper = dict(
    optimizer=dict(lr=2e-3, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0, flat_decay_mult=0.0),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, end=10, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=10),
]
train_cfg = dict(by_epoch=True, max_epochs=300, val_interval=1)
auto_scale_lr = dict(base_batch_size=1024)
