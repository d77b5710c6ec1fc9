# DeiT-S with the scaled-ReLU conv stem (7x7 s2, 3x3, 3x3 convs, 64 channels, BN + ReLU each,
# then an 8x8 patch projection: overall stride 16, 14x14 tokens at 224) on ImageNet-1k with the
# DeiT recipe (AdamW, batch 1024, 300 epochs), "Scaled ReLU Matters for Training Vision
# Transformers" (arXiv:2109.03810).
_base_ = ['mmpretrain::deit/deit-small_4xb256_in1k.py']
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        type='mmext.ScaledReLUViT',
        arch='deit-small',
        img_size=224,
        patch_size=16,
        stem_cfg=dict(stem_channels=64, kernel_sizes=(7, 3, 3), strides=(2, 1, 1))))
