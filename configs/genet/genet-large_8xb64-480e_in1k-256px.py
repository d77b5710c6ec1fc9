# GENet-large on ImageNet-1k at 256x256 (the input size of the released GENet-large; structure
# from GENet_large.txt of idstcv/GPU-Efficient-Networks). The recipe below follows the Zen-NAS
# scripts without their EfficientNet-B3 teacher distillation.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs64.py',
    'mmpretrain::_base_/schedules/imagenet_bs256_coslr.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(type='mmext.GENet', arch='large'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=2560,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, loss_weight=1.0)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=256),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=292, edge='short'),
    dict(type='CenterCrop', crop_size=256),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
# Official Zen-NAS training script (GENet development moved there): SGD nesterov, lr 0.1 per 256
# images, weight decay 4e-5, 5 warm-up epochs, cosine to 0, 480 epochs (their BN
# momentum 0.01 is not reproduced).
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.2, momentum=0.9, weight_decay=4e-5, nesterov=True))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=475, by_epoch=True, begin=5, end=480,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=480, val_interval=1)
auto_scale_lr = dict(base_batch_size=512)
