# STViT-R on Fashion-MNIST: a narrow 4-stage model (width 32, depths 2-2-6-2, heads 1-2-4-8) with
# the official conv stem; images upsampled to 56x56 so that the third stage (4x4 map) holds one
# 4x4 window, pooled to 2x2 semantic tokens (the paper: 7x7 windows -> 3x3 tokens).
# 1 epoch on the first 5k training images (shared 2-core CPU), AdamW.
_base_ = [
    '../_base_/datasets/fashion_mnist.py',
    '../_base_/schedules/adamw-1e_fashionmnist.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmext.STViT',
        arch=dict(embed_dims=32, depths=[2, 2, 6, 2], num_heads=[1, 2, 4, 8]),
        in_channels=1,
        window_size=4,
        num_semantic=2,
        key_overlap=1,
        drop_path_rate=0.05),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=256,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original')))

train_pipeline = [
    dict(type='RandomCrop', crop_size=28, padding=2),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='Resize', scale=(56, 56)),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='Resize', scale=(56, 56)), dict(type='PackInputs')]
train_dataloader = dict(dataset=dict(indices=5000, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

# a 10-iteration warm-up instead of the shared 50: 5k images make only 40 iterations
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=10),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, eta_min=1e-5,
         convert_to_iter_based=True),
]
