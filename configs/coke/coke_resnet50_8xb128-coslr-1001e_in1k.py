# CoKe with two 224 views on ImageNet (official run_double_view.sh of idstcv/CoKe): ResNet-50,
# batch 1024 (8 GPUs x 128), LARS lr 1.6, weight decay 1e-6, momentum 0.9, AMP, 1001 epochs:
# epoch 0 only clusters (learning rate 0, mmext.CoKeHook), a linear warm-up to epoch 11, then
# cosine decay to 0. Three clusterings with 3000 / 4000 / 5000 clusters, temperature 0.05, dual
# learning rate 20, cluster-size lower bound 0.4 N / K, hard-label weight 0.2.
# Published linear-probe top-1: 74.9 (official README, 1000 epochs, 2x224).
# mmpretrain's self-supervised ImageNet base: SelfSupDataPreprocessor, default_collate loader
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs512_mocov3.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

num_instances = 1281167  # ImageNet-1k train images: the label table is indexed by sample_idx
model = dict(
    type='mmext.CoKe',
    backbone=dict(
        type='ResNet', depth=50, norm_cfg=dict(type='SyncBN'), zero_init_residual=False),
    # official projection: (Linear-BN-ReLU) x 2, Linear-BN, 2048-2048-2048-128, with biases
    neck=dict(
        type='NonLinearNeck', in_channels=2048, hid_channels=2048, out_channels=128,
        num_layers=3, with_bias=True, with_last_bn=True, with_avg_pool=True,
        norm_cfg=dict(type='SyncBN')),
    head=dict(
        type='mmext.CoKeHead',
        num_instances=num_instances,
        num_clusters=(3000, 4000, 5000),
        feat_dim=128,
        # official prediction head: Linear-BN-ReLU-Linear, 128-2048-128
        predictor=dict(
            type='NonLinearNeck', in_channels=128, hid_channels=2048, out_channels=128,
            num_layers=2, with_bias=True, with_last_bn=False, with_avg_pool=False,
            norm_cfg=dict(type='SyncBN')),
        temperature=0.05,
        dual_lr=20.,
        ratio=0.4,
        loss=dict(type='mmext.CoKeLoss', alpha=0.2)))

# official aug_1 / aug_2 (BYOL-style asymmetric pair; crops from 8% of the image)
view_pipeline1 = [
    dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.08, 1.), backend='pillow'),
    dict(type='RandomApply', prob=0.8, transforms=[
        dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1)]),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.114, 0.587, 0.2989)),
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf', prob=1.),
    dict(type='RandomFlip', prob=0.5),
]
view_pipeline2 = [
    dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.08, 1.), backend='pillow'),
    dict(type='RandomApply', prob=0.8, transforms=[
        dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1)]),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.114, 0.587, 0.2989)),
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf', prob=0.1),
    dict(type='Solarize', thr=128, prob=0.2),
    dict(type='RandomFlip', prob=0.5),
]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=[1, 1], transforms=[view_pipeline1, view_pipeline2]),
    dict(type='PackInputs'),  # keeps sample_idx (the instance index)
]
train_dataloader = dict(batch_size=128, dataset=dict(pipeline=train_pipeline))

optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='LARS', lr=1.6, momentum=0.9, weight_decay=1e-6),
    # official LARS: no weight decay or trust ratio for biases and batch-norm parameters
    paramwise_cfg=dict(custom_keys={
        'bn': dict(decay_mult=0, lars_exclude=True),
        'bias': dict(decay_mult=0, lars_exclude=True),
        'downsample.1': dict(decay_mult=0, lars_exclude=True),
    }))
max_epochs = 1001
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=1, end=11,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 11, by_epoch=True, begin=11,
         end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
custom_hooks = [dict(type='mmext.CoKeHook', zero_lr_epochs=1)]
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=50, max_keep_ckpts=3))
auto_scale_lr = dict(base_batch_size=1024)
