# CoKe with multi-crop on ImageNet (official run_multi_view.sh): the two 224 views of the
# two-view recipe plus six 96 crops (8-60% of the image, stronger colour jitter), weighted
# 0.5 / 0.5 (--coke-beta), 801 epochs (epoch 0 clusters only).
# Published linear-probe top-1: 76.4 (official README, 800 epochs, 2x224 + 6x96).
_base_ = ['./coke_resnet50_8xb128-coslr-1001e_in1k.py']

model = dict(head=dict(beta=0.5))

small_view_pipeline = [
    dict(type='RandomResizedCrop', scale=96, crop_ratio_range=(0.05, 0.6), backend='pillow'),
    dict(type='RandomApply', prob=0.8, transforms=[
        dict(type='ColorJitter', brightness=0.8, contrast=0.8, saturation=0.8, hue=0.2)]),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.114, 0.587, 0.2989)),
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf', prob=0.5),
    dict(type='RandomFlip', prob=0.5),
]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=[1, 1, 6],
         transforms=[{{_base_.view_pipeline1}}, {{_base_.view_pipeline2}},
                     small_view_pipeline]),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

max_epochs = 801
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=1, end=11,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 11, by_epoch=True, begin=11,
         end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
