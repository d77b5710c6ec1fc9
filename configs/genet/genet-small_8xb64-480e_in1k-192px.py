# GENet-small on ImageNet-1k at 192x192 (the input size of the released GENet-small; structure
# from GENet_small.txt of idstcv/GPU-Efficient-Networks). The recipe follows the Zen-NAS
# scripts without their EfficientNet-B3 teacher distillation. GENet-normal / -large inherit this.
_base_ = ['../_base_/zennas_8xb64-480e_in1k.py']
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    backbone=dict(type='mmext.GENet', arch='small'), head=dict(in_channels=1920))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=192),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=220, edge='short'),  # ceil(192 / 0.875), as official
    dict(type='CenterCrop', crop_size=192),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
