# ZenNet-400M-SE on ImageNet-1k at 224 (structure zennet_imagenet1k_flops400M_res224.txt of
# idstcv/ZenNAS, with SE). Batch 512, 480 epochs as the official scripts, without their
# EfficientNet-B3 teacher distillation. ZenNet-600M-SE / -900M-SE inherit this.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs64.py',
    '../_base_/schedules/zennas_sgd-480e_in1k.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(type='mmext.ZenNet', arch='flops400m-se'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=2048,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, loss_weight=1.0)))
