# CoKe on unlabelled Fashion-MNIST (the first 5,000 training images): the official two-view
# recipe scaled down to the CIFAR-style ResNet-8 (projection 64-128-128-32 with batch norm,
# predictor 32-128-32), clusterings of 30 / 40 / 50 clusters (1/100 of the official K; the
# lower bound 0.4 N / K keeps at least 40-67 images in a cluster), official temperature 0.05,
# dual lr 20, hard-label weight 0.2. LARS at the official lr scaled to batch 128
# (1.6 * 128 / 1024); epoch 0 only clusters (lr 0), one warm-up epoch, cosine decay over the rest.
_base_ = ['../_base_/selfsup_resnet8-w16_fashionmnist.py']

num_instances = {{_base_.num_train}}
# plain BN: NonLinearNeck's default SyncBN does not run on CPU processes (gloo)
norm_cfg = dict(type='BN1d')
model = dict(
    type='mmext.CoKe',
    data_preprocessor={{_base_.selfsup_preprocessor}},
    backbone={{_base_.backbone}},
    neck=dict(
        type='NonLinearNeck', in_channels=64, hid_channels=128, out_channels=32, num_layers=3,
        with_bias=True, with_last_bn=True, with_avg_pool=True, norm_cfg=norm_cfg),
    head=dict(
        type='mmext.CoKeHead',
        num_instances=num_instances,
        num_clusters=(30, 40, 50),
        feat_dim=32,
        predictor=dict(
            type='NonLinearNeck', in_channels=32, hid_channels=128, out_channels=32,
            num_layers=2, with_bias=True, with_last_bn=False, with_avg_pool=False,
            norm_cfg=norm_cfg),
        temperature=0.05,
        dual_lr=20.,
        ratio=0.4,
        loss=dict(type='mmext.CoKeLoss', alpha=0.2)))

train_pipeline = [
    dict(type='MultiView', num_views=2, transforms=[{{_base_.view_pipeline}}]),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='LARS', lr=0.2, momentum=0.9, weight_decay=1e-6),
    paramwise_cfg=dict(custom_keys={
        'bn': dict(decay_mult=0, lars_exclude=True),
        'bias': dict(decay_mult=0, lars_exclude=True),
        'downsample.1': dict(decay_mult=0, lars_exclude=True),
    }))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=True, begin=1, end=2,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=2, convert_to_iter_based=True),
]
custom_hooks = [dict(type='mmext.CoKeHook', zero_lr_epochs=1)]
