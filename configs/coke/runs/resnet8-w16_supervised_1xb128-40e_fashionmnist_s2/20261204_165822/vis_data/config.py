backbone = dict(
    base_channels=16,
    in_channels=1,
    stage_blocks=(
        1,
        1,
        1,
    ),
    stem_channels=16,
    type='mmext.CIFARResNet')
bank_dataloader = dict(
    batch_size=256,
    dataset=dict(
        data_root='/work/main/data/fashion_mnist',
        download=False,
        pipeline=[
            dict(type='PackInputs'),
        ],
        split='train',
        test_mode=False,
        type='FashionMNIST'),
    num_workers=2,
    persistent_workers=True,
    sampler=dict(shuffle=False, type='DefaultSampler'))
custom_hooks = [
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
        interval=20,
        max_keep_ckpts=1,
        type='CheckpointHook'),
    logger=dict(_scope_='mmpretrain', interval=20, type='LoggerHook'),
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
main_process_loader = dict(
    collate_fn=dict(type='default_collate'),
    num_workers=0,
    persistent_workers=False)
max_epochs = 20
model = dict(
    backbone=dict(
        base_channels=16,
        in_channels=1,
        stage_blocks=(
            1,
            1,
            1,
        ),
        stem_channels=16,
        type='mmext.CIFARResNet'),
    data_preprocessor=dict(
        mean=[
            72.94,
        ], num_classes=10, std=[
            90.02,
        ], to_rgb=False),
    head=dict(
        in_channels=64,
        loss=dict(loss_weight=1.0, type='CrossEntropyLoss'),
        num_classes=10,
        type='LinearClsHead'),
    neck=dict(type='GlobalAveragePooling'),
    type='ImageClassifier')
num_classes = 10
num_train = 5000
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
randomness = dict(deterministic=False, seed=2)
resume = False
selfsup_preprocessor = dict(
    mean=[
        72.94,
    ],
    std=[
        90.02,
    ],
    to_rgb=False,
    type='SelfSupDataPreprocessor')
test_cfg = dict(
    bank_dataloader=dict(
        batch_size=256,
        collate_fn=dict(type='default_collate'),
        dataset=dict(
            data_root='/work/main/data/fashion_mnist',
            download=False,
            indices=5000,
            pipeline=[
                dict(type='PackInputs'),
            ],
            split='train',
            test_mode=False,
            type='FashionMNIST'),
        num_workers=0,
        persistent_workers=False,
        sampler=dict(shuffle=False, type='DefaultSampler')),
    type='mmext.FeatureProbeTestLoop')
test_dataloader = dict(
    batch_size=256,
    collate_fn=dict(type='default_collate'),
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
test_evaluator = dict(
    knn_k=200,
    linear_probe=True,
    temperature=0.07,
    type='mmext.FeatureProbeMetric')
test_pipeline = [
    dict(type='PackInputs'),
]
train_cfg = dict(max_epochs=40, type='EpochBasedTrainLoop', val_interval=5)
train_dataloader = dict(
    batch_size=128,
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        data_root='/work/main/data/fashion_mnist',
        download=False,
        indices=5000,
        pipeline=[
            dict(crop_size=28, padding=2, type='RandomCrop'),
            dict(direction='horizontal', prob=0.5, type='RandomFlip'),
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
    dict(type='PackInputs'),
]
val_cfg = dict(
    bank_dataloader=dict(
        batch_size=256,
        collate_fn=dict(type='default_collate'),
        dataset=dict(
            data_root='/work/main/data/fashion_mnist',
            download=False,
            indices=5000,
            pipeline=[
                dict(type='PackInputs'),
            ],
            split='train',
            test_mode=False,
            type='FashionMNIST'),
        num_workers=0,
        persistent_workers=False,
        sampler=dict(shuffle=False, type='DefaultSampler')),
    type='mmext.FeatureProbeValLoop')
val_dataloader = dict(
    batch_size=256,
    collate_fn=dict(type='default_collate'),
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
val_evaluator = dict(
    knn_k=200,
    linear_probe=True,
    temperature=0.07,
    type='mmext.FeatureProbeMetric')
view_pipeline = [
    dict(
        backend='pillow',
        crop_ratio_range=(
            0.2,
            1.0,
        ),
        scale=28,
        type='RandomResizedCrop'),
    dict(direction='horizontal', prob=0.5, type='RandomFlip'),
    dict(
        prob=0.8,
        transforms=[
            dict(backend='cv2', brightness=0.4, type='ColorJitter'),
        ],
        type='RandomApply'),
    dict(
        magnitude_range=(
            0.1,
            1.0,
        ),
        magnitude_std='inf',
        prob=0.2,
        type='GaussianBlur'),
]
vis_backends = [
    dict(_scope_='mmpretrain', type='LocalVisBackend'),
]
visualizer = dict(
    _scope_='mmpretrain',
    type='UniversalVisualizer',
    vis_backends=[
        dict(type='LocalVisBackend'),
    ])
work_dir = 'work_dirs/resnet8-w16_supervised_1xb128-40e_fashionmnist_s2'
