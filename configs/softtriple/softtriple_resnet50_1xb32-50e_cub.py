# SoftTriple (arXiv 1909.05235) mirror of the paper's CUB-200-2011 setting: 64-d embedding,
# K=10 centers per class, lambda=20, gamma=0.1, tau=0.2, delta=0.01; Adam (eps 0.01, wd 1e-4)
# with lr 1e-4 for the network and 1e-2 for the centers, x0.1 every 20 epochs, 50 epochs,
# batch 32, RandomResizedCrop 224 + flip / Resize 256 + CenterCrop 224, frozen BatchNorm.
# Differences from the paper: the backbone is ResNet-50 (the paper's BN-Inception is not in
# mmpretrain), and mmpretrain's CUB dataset gives the 200-class classification split; the
# paper trains on classes 1-100 and reports Recall@K on the unseen classes 101-200 (provide
# class-disjoint annotation files for that protocol). Start from ImageNet weights by setting
# backbone.init_cfg to a local checkpoint (nothing is downloaded here).
_base_ = ['mmpretrain::_base_/default_runtime.py']

num_classes = 200

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ResNet', depth=50, num_stages=4, out_indices=(3, ), style='pytorch',
        norm_eval=True),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='mmext.SoftTripleHead',
        num_classes=num_classes,
        in_channels=2048,
        embed_dims=64,
        num_centers=10,
        loss=dict(type='mmext.SoftTripleLoss', la=20., gamma=0.1, tau=0.2, margin=0.01)))

data_preprocessor = dict(
    num_classes=num_classes,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=4,
    dataset=dict(type='CUB', data_root='data/CUB_200_2011', split='train',
                 pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=64,
    num_workers=4,
    dataset=dict(type='CUB', data_root='data/CUB_200_2011', split='test',
                 pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
test_dataloader = val_dataloader
val_evaluator = dict(type='mmext.RecallAtK', topk=(1, 2, 4, 8))
test_evaluator = val_evaluator

optim_wrapper = dict(
    optimizer=dict(type='Adam', lr=1e-4, eps=0.01, weight_decay=1e-4),
    paramwise_cfg=dict(custom_keys={'head.centers': dict(lr_mult=100.)}))
param_scheduler = dict(type='StepLR', by_epoch=True, step_size=20, gamma=0.1)
train_cfg = dict(by_epoch=True, max_epochs=50, val_interval=5)
val_cfg = dict()
test_cfg = dict()

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
