# The same ViT with the scaled-ReLU conv stem (7x7 s2, 3x3, 3x3 convs with 16 channels, each
# followed by BN + ReLU, then a 2x2 projection: still 7x7 tokens).
_base_ = ['./vit-tiny-p4-patchify_1xb128-1e_fashionmnist.py']

model = dict(
    backbone=dict(
        type='mmext.ScaledReLUViT',
        stem_cfg=dict(stem_channels=16, kernel_sizes=(7, 3, 3), strides=(2, 1, 1))))
