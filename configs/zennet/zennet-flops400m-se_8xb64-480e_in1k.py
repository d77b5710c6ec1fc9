# ZenNet-400M-SE on ImageNet-1k at 224 (structure zennet_imagenet1k_flops400M_res224.txt of
# idstcv/ZenNAS, with SE). Batch 512, 480 epochs as the official scripts, without their
# EfficientNet-B3 teacher distillation. ZenNet-600M-SE / -900M-SE inherit this.
_base_ = ['../_base_/zennas_8xb64-480e_in1k.py']
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    # eps 1e-3 on every BatchNorm, as the official models (the backbone's default)
    backbone=dict(type='mmext.ZenNet', arch='flops400m-se', norm_cfg=dict(type='BN', eps=1e-3)),
    head=dict(in_channels=2048))

# Evaluation as the official val.py: short side resized (bicubic) to ceil(320 / 0.875) = 366,
# 320x320 centre crop, then bilinear resize to the 224 input (the official code resizes the
# normalised batch tensor; here the crop is resized before normalisation, equal up to uint8
# rounding).
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=366, edge='short', backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=320),
    dict(type='Resize', scale=224, interpolation='bilinear'),
    dict(type='PackInputs'),
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
