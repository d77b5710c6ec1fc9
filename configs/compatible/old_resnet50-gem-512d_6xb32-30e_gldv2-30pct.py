# RACT (arXiv 2201.09724) GLDv2 recipe, OLD model: ResNet-50 (ImageNet-initialised) with GeM
# pooling (p=3, frozen), a 512-d linear embedding and a linear classifier over the 81,313
# GLDv2-clean landmarks, trained on the official "30% data" split for 30 epochs: SGD lr 0.1,
# momentum 0.9, weight decay 1e-4, batch 192 (6 GPUs x 32), one warm-up epoch from lr * 1e-3,
# cosine to lr * 1e-2, 224x224 images (official OpenCompatible config.json / train_test.md).
# Only built and forwarded in the tests here (no GLDv2 on this machine). The annotation files
# are the official ones (utils/split_dataset.py of TencentARC/OpenCompatible) as
# "relative/path.jpg label" lines.
_base_ = ['mmpretrain::_base_/default_runtime.py']

data_root = 'data/gldv2'
num_classes = 81313

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ResNet', depth=50, num_stages=4, out_indices=(3, ), style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')),
    neck=dict(type='GeneralizedMeanPooling', p=3., p_trainable=False),
    # embedding (2048 -> 512, no activation) then the classifier: the official Resnet_GeM
    head=dict(
        type='StackedLinearClsHead',
        num_classes=num_classes,
        in_channels=2048,
        mid_channels=[512],
        act_cfg=None,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))

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
    dict(type='Resize', scale=(224, 224)),
    dict(type='PackInputs'),
]
gldv2 = dict(type='CustomDataset', data_root=data_root, with_label=True, data_prefix='train')
train_dataloader = dict(
    batch_size=32,
    num_workers=8,
    dataset=dict(gldv2, ann_file='annotation/gldv2_old_30percent_data.txt',
                 pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
# a labelled query / gallery file (first lines = queries) for QueryGalleryMAP; the official
# GLDv2 / ROxford test protocols use per-query ground-truth lists instead (not implemented)
val_dataloader = dict(
    batch_size=64,
    num_workers=8,
    dataset=dict(gldv2, ann_file='annotation/gldv2_val_query_gallery.txt',
                 pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator

optim_wrapper = dict(
    type='AmpOptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-3, by_epoch=True, begin=1, end=30,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=30, val_interval=5)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=192)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=5, max_keep_ckpts=2))
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
