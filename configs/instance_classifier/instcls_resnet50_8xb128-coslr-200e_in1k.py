# One-million-way instance classifier (Liu et al., AAAI 2021, arXiv 2102.04848) on ImageNet:
# ResNet-50, pooling + MLP projection to 128-d, a cosine classifier over the 1,281,167 training
# images split over the 8 processes (mmext.ShardedLinear: ~160k classes per rank), softmax
# cross-entropy over all of them with the labels smoothed onto the hardest classes.
# No official code was found: the parts follow the paper; the widths, temperature, smoothing,
# augmentation strength and schedule below are ours (see README.md), not checked values.
# mmpretrain's self-supervised ImageNet base: SelfSupDataPreprocessor, default_collate loader
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs512_mocov3.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

num_instances = 1281167
model = dict(
    type='mmext.InstanceClassifier',
    backbone=dict(
        type='ResNet', depth=50, norm_cfg=dict(type='SyncBN'), zero_init_residual=False),
    neck=dict(
        type='NonLinearNeck', in_channels=2048, hid_channels=2048, out_channels=128,
        num_layers=2, with_bias=True, with_last_bn=False, with_avg_pool=True,
        norm_cfg=dict(type='SyncBN')),
    head=dict(
        type='mmext.InstanceClassificationHead',
        num_instances=num_instances,
        in_channels=128,
        temperature=0.2,
        loss=dict(type='mmext.InstanceClassificationLoss', smooth=0.1, topk=5)))

# a single view per image, as a supervised classifier; SimCLR-strength augmentation
view_pipeline = [
    dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.08, 1.), backend='pillow'),
    dict(type='RandomApply', prob=0.8, transforms=[
        dict(type='ColorJitter', brightness=0.8, contrast=0.8, saturation=0.8, hue=0.2)]),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.114, 0.587, 0.2989)),
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf', prob=0.5),
    dict(type='RandomFlip', prob=0.5),
]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=1, transforms=[view_pipeline]),
    dict(type='PackInputs'),  # keeps sample_idx: the instance's class
]
train_dataloader = dict(batch_size=128, dataset=dict(pipeline=train_pipeline))

optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='SGD', lr=0.12, momentum=0.9, weight_decay=1e-4))
max_epochs = 200
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 5, by_epoch=True, begin=5,
         end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
auto_scale_lr = dict(base_batch_size=1024)
# rank 0 writes the checkpoints: gather the classifier's shards first
custom_hooks = [dict(type='mmext.ShardedLinearGatherHook')]
