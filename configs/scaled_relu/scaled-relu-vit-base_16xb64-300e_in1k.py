# DeiT-B (ViT-B/16) with the scaled-ReLU conv stem on ImageNet-1k, DeiT recipe (batch 1024).
_base_ = ['mmpretrain::deit/deit-base_16xb64_in1k.py']
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        type='mmext.ScaledReLUViT',
        arch='deit-base',
        img_size=224,
        patch_size=16,
        stem_cfg=dict(stem_channels=64, kernel_sizes=(7, 3, 3), strides=(2, 1, 1))))
