# HyP^2 (arXiv 2208.06866) mirror of the paper's VOC-2007 setting: Inception-v3 ("GoogLeNet" in
# the official code) whose last fc is the 48-bit hash layer, 448x448 inputs, batch 100, SGD
# (lr 0.02 for network and proxies, momentum 0.9, wd 5e-4), step x0.5 every 10 epochs, 100
# epochs, beta 0.5, zeta from the official code table (48 bits, 20 classes -> 0).
# Retrieval protocol of the paper: queries = VOC2007 test (4,952), database = trainval (5,011),
# mAP@5011 (= mAP@all). The val set is test + trainval concatenated, HashingMAP splits it.
# Labels count every annotated object, difficult ones included, as the official lists do
# (mmext.IncludeDifficultLabels; mmpretrain's VOC moves difficult-only classes aside).
# The official code starts from ImageNet weights: set backbone.init_cfg to a local checkpoint.
_base_ = ['mmpretrain::_base_/default_runtime.py']

code_length = 48
num_classes = 20

model = dict(
    type='ImageClassifier',
    backbone=dict(type='InceptionV3', num_classes=code_length, aux_logits=False),
    neck=None,
    head=dict(
        type='mmext.HashingHead',
        num_classes=num_classes,
        in_channels=code_length,
        code_length=code_length,
        with_hash_layer=False,
        loss=dict(type='mmext.HyP2Loss', beta=0.5)))

data_preprocessor = dict(
    num_classes=num_classes,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True,
    to_onehot=True)  # multi-hot gt_score for the loss and the metric

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='mmext.IncludeDifficultLabels'),
    dict(type='Resize', scale=(448, 448)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='mmext.IncludeDifficultLabels'),
    dict(type='Resize', scale=(448, 448)),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=100,
    num_workers=8,
    dataset=dict(type='VOC', data_root='data/VOC2007', split='trainval',
                 pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=100,
    num_workers=8,
    dataset=dict(
        type='ConcatDataset',
        datasets=[
            dict(type='VOC', data_root='data/VOC2007', split='test', pipeline=test_pipeline),
            dict(type='VOC', data_root='data/VOC2007', split='trainval',
                 pipeline=test_pipeline),
        ]),
    sampler=dict(type='DefaultSampler', shuffle=False))
test_dataloader = val_dataloader
val_evaluator = dict(type='mmext.HashingMAP', topk=(None, ), num_queries=4952)
test_evaluator = val_evaluator

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=5e-4))
param_scheduler = dict(type='StepLR', by_epoch=True, step_size=10, gamma=0.5)
train_cfg = dict(by_epoch=True, max_epochs=100, val_interval=5)
val_cfg = dict()
test_cfg = dict()

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
