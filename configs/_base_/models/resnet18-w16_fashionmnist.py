# The narrow CIFAR-style ResNet-18 used on Fashion-MNIST (3x3 stem, no max-pool, widths 16-128,
# 1 input channel). Configs add the head they need (128 input channels).
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ResNet_CIFAR',
        depth=18,
        in_channels=1,
        stem_channels=16,
        base_channels=16,
        num_stages=4,
        out_indices=(3, ),
        style='pytorch'),
    neck=dict(type='GlobalAveragePooling'))
