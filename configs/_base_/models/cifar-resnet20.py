# ResNet-20 for CIFAR-10 (3 stages of 3 basic blocks, widths 16/32/64, mmext.CIFARResNet): the
# full-precision classifier that the CIFAR-10 compression configs wrap in mmext.CompressedModel
# (configs/lts, configs/reste).
model = dict(
    type='ImageClassifier',
    backbone=dict(type='mmext.CIFARResNet', stage_blocks=(3, 3, 3)),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=10, in_channels=64,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
