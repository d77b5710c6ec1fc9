# Supervised reference for the self-supervised Fashion-MNIST runs (CoKe, instance classifier):
# the same ResNet-8, the same 5,000 training images (with their labels), batch, epochs and
# evaluation (kNN / linear probe on the frozen backbone features); a linear classifier trained
# with cross-entropy, SGD lr 0.1 (Nesterov momentum 0.9, weight decay 5e-4), one warm-up
# epoch then cosine decay, the dataset's standard augmentation (pad-2 crop, flip).
_base_ = ['../_base_/selfsup_resnet8-w16_fashionmnist.py']

model = dict(
    type='ImageClassifier',
    data_preprocessor={{_base_.data_preprocessor}},
    backbone={{_base_.backbone}},
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=10, in_channels=64,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
train_dataloader = dict(collate_fn=dict(type='default_collate'))
