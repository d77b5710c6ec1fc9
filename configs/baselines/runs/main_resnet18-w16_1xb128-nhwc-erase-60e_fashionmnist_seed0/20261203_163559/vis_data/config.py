auto_scale_lr = dict(base_batch_size=128)
custom_hooks = [
    dict(type='mmext.ChannelsLastHook'),
    dict(interval=1, type='mmext.CheckInvalidLossHook'),
    dict(type='mmext.RankAverageLossHook'),
    dict(type='mmext.EpochSeedHook'),
]
custom_imports = dict(
    allow_failed_imports=False, imports=[
        'mmext',
    ])
data_dir = '/work/main/data'
data_preprocessor = dict(
    mean=[
        72.94,
    ], num_classes=10, std=[
        90.02,
    ], to_rgb=False)
data_root = '/work/main/data/fashion_mnist'
dataset_type = 'FashionMNIST'
default_hooks = dict(
    checkpoint=dict(
        _scope_='mmpretrain',
        interval=1,
        max_keep_ckpts=2,
        save_best='auto',
        type='CheckpointHook'),
    logger=dict(_scope_='mmpretrain', interval=50, type='LoggerHook'),
    param_scheduler=dict(_scope_='mmpretrain', type='ParamSchedulerHook'),
    sampler_seed=dict(_scope_='mmpretrain', type='DistSamplerSeedHook'),
    timer=dict(_scope_='mmpretrain', type='IterTimerHook'),
    visualization=dict(
        _scope_='mmpretrain', enable=False, type='VisualizationHook'))
default_scope = 'mmpretrain'
env_cfg = dict(
    cudnn_benchmark=False,
    dist_cfg=dict(backend='nccl'),
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0))
launcher = 'none'
load_from = None
log_level = 'INFO'
model = dict(
    backbone=dict(
        base_channels=16,
        depth=18,
        in_channels=1,
        num_stages=4,
        out_indices=(3, ),
        stem_channels=16,
        style='pytorch',
        type='ResNet_CIFAR'),
    head=dict(
        in_channels=128,
        loss=dict(
            label_smooth_val=0.1, loss_weight=1.0, type='LabelSmoothLoss'),
        num_classes=10,
        type='LinearClsHead'),
    neck=dict(type='GlobalAveragePooling'),
    type='ImageClassifier')
num_classes = 10
optim_wrapper = dict(
    optimizer=dict(
        lr=0.1, momentum=0.9, nesterov=True, type='SGD', weight_decay=0.0005))
param_scheduler = [
    dict(
        begin=0,
        by_epoch=True,
        convert_to_iter_based=True,
        end=1,
        start_factor=0.1,
        type='LinearLR'),
    dict(
        begin=1,
        by_epoch=True,
        convert_to_iter_based=True,
        type='CosineAnnealingLR'),
]
randomness = dict(deterministic=False, seed=0)
resume = False
test_cfg = dict()
test_dataloader = dict(
    batch_size=256,
    dataset=dict(
        data_root='/work/main/data/fashion_mnist',
        download=False,
        pipeline=[
            dict(type='PackInputs'),
        ],
        split='test',
        test_mode=True,
        type='FashionMNIST'),
    num_workers=0,
    persistent_workers=False,
    sampler=dict(shuffle=False, type='DefaultSampler'))
test_evaluator = dict(topk=(1, ), type='Accuracy')
test_pipeline = [
    dict(type='PackInputs'),
]
train_cfg = dict(by_epoch=True, max_epochs=60, val_interval=5)
train_dataloader = dict(
    batch_size=128,
    dataset=dict(
        data_root='/work/main/data/fashion_mnist',
        download=False,
        pipeline=[
            dict(crop_size=28, padding=2, type='RandomCrop'),
            dict(direction='horizontal', prob=0.5, type='RandomFlip'),
            dict(
                transforms=[
                    dict(
                        aspect_range=(
                            0.3,
                            3.3333333333333335,
                        ),
                        erase_prob=0.5,
                        max_area_ratio=0.4,
                        min_area_ratio=0.02,
                        mode='rand',
                        type='RandomErasing'),
                ],
                type='mmext.GreyAsColor'),
            dict(type='PackInputs'),
        ],
        split='train',
        type='FashionMNIST'),
    num_workers=0,
    persistent_workers=False,
    sampler=dict(shuffle=True, type='DefaultSampler'))
train_pipeline = [
    dict(crop_size=28, padding=2, type='RandomCrop'),
    dict(direction='horizontal', prob=0.5, type='RandomFlip'),
    dict(
        transforms=[
            dict(
                aspect_range=(
                    0.3,
                    3.3333333333333335,
                ),
                erase_prob=0.5,
                max_area_ratio=0.4,
                min_area_ratio=0.02,
                mode='rand',
                type='RandomErasing'),
        ],
        type='mmext.GreyAsColor'),
    dict(type='PackInputs'),
]
val_cfg = dict()
val_dataloader = dict(
    batch_size=256,
    dataset=dict(
        data_root='/work/main/data/fashion_mnist',
        download=False,
        pipeline=[
            dict(type='PackInputs'),
        ],
        split='test',
        test_mode=True,
        type='FashionMNIST'),
    num_workers=0,
    persistent_workers=False,
    sampler=dict(shuffle=False, type='DefaultSampler'))
val_evaluator = dict(topk=(1, ), type='Accuracy')
vis_backends = [
    dict(_scope_='mmpretrain', type='LocalVisBackend'),
]
visualizer = dict(
    _scope_='mmpretrain',
    type='UniversalVisualizer',
    vis_backends=[
        dict(type='LocalVisBackend'),
    ])
work_dir = 'work_dirs/main_resnet18-w16_1xb128-nhwc-erase-60e_fashionmnist'
