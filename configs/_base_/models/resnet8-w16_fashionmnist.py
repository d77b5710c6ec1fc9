# A CIFAR-style ResNet-8 (3x3 stem, 3 stages of 1 basic block, widths 16-32-64, 78k params) on
# 1-channel 28x28 Fashion-MNIST, followed by global average pooling (64-d features): the small
# network of the representation-learning demos (configs/coins, configs/look). Configs add the
# head.
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmext.CIFARResNet', stage_blocks=(1, 1, 1), in_channels=1, stem_channels=16,
        base_channels=16),
    neck=dict(type='GlobalAveragePooling'))
