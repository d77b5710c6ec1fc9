auto_scale_lr = dict(base_batch_size=128)
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
        by_epoch=False,
        interval=1200,
        max_keep_ckpts=1,
        type='CheckpointHook'),
    logger=dict(
        _scope_='mmpretrain',
        interval=50,
        log_metric_by_epoch=False,
        type='LoggerHook'),
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
heldout_classes = [
    5,
    6,
    7,
    8,
    9,
]
launcher = 'none'
load_from = None
log_level = 'INFO'
log_processor = dict(by_epoch=False)
max_iters = 1200
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
    head=dict(
        in_channels=64,
        loss=dict(loss_weight=1.0, type='CrossEntropyLoss'),
        num_classes=5,
        type='LinearClsHead'),
    neck=dict(type='GlobalAveragePooling'),
    type='ImageClassifier')
num_classes = 5
num_train = 20000
optim_wrapper = dict(
    optimizer=dict(
        lr=0.1, momentum=0.9, nesterov=True, type='SGD', weight_decay=0.0005))
param_scheduler = [
    dict(begin=0, by_epoch=False, end=30, start_factor=0.1, type='LinearLR'),
    dict(begin=30, by_epoch=False, type='CosineAnnealingLR'),
]
pretrain_classes = [
    0,
    1,
    2,
    3,
    4,
]
randomness = dict(deterministic=False, seed=2)
resume = False
test_cfg = dict(
    bank_dataloader=dict(
        batch_size=256,
        dataset=dict(
            dataset=dict(
                data_root='/work/main/data/fashion_mnist',
                download=False,
                indices=20000,
                pipeline=[
                    dict(type='PackInputs'),
                ],
                split='train',
                type='FashionMNIST'),
            keep_classes=[
                5,
                6,
                7,
                8,
                9,
            ],
            type='mmext.RelabeledDataset'),
        num_workers=2,
        persistent_workers=True,
        sampler=dict(shuffle=False, type='DefaultSampler')),
    type='mmext.FeatureProbeTestLoop')
test_dataloader = dict(
    batch_size=256,
    dataset=dict(
        dataset=dict(
            data_root='/work/main/data/fashion_mnist',
            download=False,
            pipeline=[
                dict(type='PackInputs'),
            ],
            split='test',
            test_mode=True,
            type='FashionMNIST'),
        keep_classes=[
            5,
            6,
            7,
            8,
            9,
        ],
        type='mmext.RelabeledDataset'),
    num_workers=2,
    persistent_workers=True,
    sampler=dict(shuffle=False, type='DefaultSampler'))
test_evaluator = dict(
    knn_k=200,
    linear_probe=True,
    temperature=0.07,
    type='mmext.FeatureProbeMetric')
test_pipeline = [
    dict(type='PackInputs'),
]
train_cfg = dict(by_epoch=False, max_iters=1200, val_interval=400)
train_dataloader = dict(
    batch_size=128,
    dataset=dict(
        dataset=dict(
            data_root='/work/main/data/fashion_mnist',
            download=False,
            indices=20000,
            pipeline=[
                dict(crop_size=28, padding=2, type='RandomCrop'),
                dict(direction='horizontal', prob=0.5, type='RandomFlip'),
                dict(type='PackInputs'),
            ],
            split='train',
            type='FashionMNIST'),
        keep_classes=[
            0,
            1,
            2,
            3,
            4,
        ],
        type='mmext.RelabeledDataset'),
    num_workers=2,
    persistent_workers=True,
    sampler=dict(shuffle=True, type='DefaultSampler'))
train_images = dict(
    data_root='/work/main/data/fashion_mnist',
    download=False,
    indices=20000,
    pipeline=[
        dict(type='PackInputs'),
    ],
    split='train',
    type='FashionMNIST')
train_pipeline = [
    dict(crop_size=28, padding=2, type='RandomCrop'),
    dict(direction='horizontal', prob=0.5, type='RandomFlip'),
    dict(type='PackInputs'),
]
val_cfg = dict(
    bank_dataloader=dict(
        batch_size=256,
        dataset=dict(
            dataset=dict(
                data_root='/work/main/data/fashion_mnist',
                download=False,
                indices=20000,
                pipeline=[
                    dict(type='PackInputs'),
                ],
                split='train',
                type='FashionMNIST'),
            keep_classes=[
                5,
                6,
                7,
                8,
                9,
            ],
            type='mmext.RelabeledDataset'),
        num_workers=2,
        persistent_workers=True,
        sampler=dict(shuffle=False, type='DefaultSampler')),
    type='mmext.FeatureProbeValLoop')
val_dataloader = dict(
    batch_size=256,
    dataset=dict(
        dataset=dict(
            data_root='/work/main/data/fashion_mnist',
            download=False,
            pipeline=[
                dict(type='PackInputs'),
            ],
            split='test',
            test_mode=True,
            type='FashionMNIST'),
        keep_classes=[
            5,
            6,
            7,
            8,
            9,
        ],
        type='mmext.RelabeledDataset'),
    num_workers=2,
    persistent_workers=True,
    sampler=dict(shuffle=False, type='DefaultSampler'))
val_evaluator = dict(
    knn_k=200,
    linear_probe=True,
    temperature=0.07,
    type='mmext.FeatureProbeMetric')
vis_backends = [
    dict(_scope_='mmpretrain', type='LocalVisBackend'),
]
visualizer = dict(
    _scope_='mmpretrain',
    type='UniversalVisualizer',
    vis_backends=[
        dict(type='LocalVisBackend'),
    ])
work_dir = 'work_dirs/look_ce-1200it_fm_s2'
