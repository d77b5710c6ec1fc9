# Stage 1 of CDTrans (arXiv 2109.06165) on Office-Home, Art -> Clipart: DeiT-B trained on the
# labelled source domain, as the official pre-training scripts (CDTrans/CDTrans
# scripts/pretrain/officehome, configs/pretrain.yml): 10 epochs, batch 64 on 1 GPU, SGD lr 0.008
# momentum 0.9, weight decay 1e-4, biases at 2x lr, label smoothing 0.1, drop path 0.1,
# BatchNorm neck + linear classifier, 256x256 resize then 224 random crop and flip; the 10-epoch
# linear warm-up from 0.01x spans the whole stage. Validation on the target domain.
# Other Office-Home pairs: edit source_domain / target_domain below (Art, Clipart, Product,
# Real_World); the adaptation config inherits them.
# Initialisation: official code uses the DeiT-B distilled ImageNet weights (distillation token
# dropped); here mmpretrain's DeiT-B ImageNet checkpoint, downloaded beforehand into
# checkpoints/ (https://download.openmmlab.com/mmclassification/v0/deit/
# deit-base_pt-16xb64_in1k_20220216-db63c16c.pth).
_base_ = ['mmpretrain::_base_/default_runtime.py']
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

source_domain = 'Art'
target_domain = 'Clipart'
num_classes = 65
data_root = 'data/OfficeHomeDataset'
dataset_type = 'CustomDataset'

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='VisionTransformer',
        arch='deit-base',
        img_size=224,
        patch_size=16,
        drop_path_rate=0.1,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/deit-base_pt-16xb64_in1k_20220216-db63c16c.pth',
            prefix='backbone.')),
    neck=dict(type='mmext.BNNeck', in_channels=768),
    head=dict(
        type='LinearClsHead',
        num_classes=num_classes,
        in_channels=768,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        init_cfg=dict(type='Normal', layer='Linear', std=0.001)))

data_preprocessor = dict(
    num_classes=num_classes,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(256, 256)),
    dict(type='RandomCrop', crop_size=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(256, 256)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
# the official lists (data/OfficeHomeDataset/<domain>.txt: "./<domain>/<class>/<image> <label>")
train_dataloader = dict(
    batch_size=64,
    num_workers=8,
    dataset=dict(type=dataset_type, data_root=data_root, ann_file=f'{source_domain}.txt',
                 pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=256,
    num_workers=8,
    dataset=dict(type=dataset_type, data_root=data_root, ann_file=f'{target_domain}.txt',
                 pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_dataloader = val_dataloader
test_evaluator = val_evaluator

max_epochs = 10
base_lr = 0.008
optim_wrapper = dict(
    type='AmpOptimWrapper',
    optimizer=dict(type='SGD', lr=base_lr, momentum=0.9, weight_decay=1e-4),
    # the official optimizer gives every parameter named *bias* twice the learning rate
    paramwise_cfg=dict(custom_keys={'bias': dict(lr_mult=2.0)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=10),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=max_epochs))
randomness = dict(seed=1234)
