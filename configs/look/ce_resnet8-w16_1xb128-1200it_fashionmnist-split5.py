# Baseline of the LOOK demo: cross-entropy pre-training of the ResNet-8 w16 on Fashion-MNIST
# classes 0-4, transferred to the held-out classes 5-9 by a k-NN / linear probe of the frozen
# backbone features. Same data, schedule (1200 SGD iterations of batch 128) and evaluation as
# look_resnet8-w16_1xb128-1200it_fashionmnist-split5.py.
_base_ = ['../_base_/split5_1xb128-1200it_fashionmnist.py']

model = dict(
    head=dict(
        type='LinearClsHead', num_classes=5, in_channels=64,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
