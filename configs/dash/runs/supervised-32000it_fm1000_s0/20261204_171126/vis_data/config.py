custom_hooks = [
    dict(
        momentum=0.01,
        priority='ABOVE_NORMAL',
        type='EMAHook',
        update_buffers=True),
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
        interval=32000,
        max_keep_ckpts=1,
        type='CheckpointHook'),
    logger=dict(
        _scope_='mmpretrain',
        interval=25,
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
epoch_iters = 1024
labeled_batch_size = 16
launcher = 'none'
load_from = None
log_level = 'INFO'
log_processor = dict(by_epoch=False)
model = dict(
    backbone=dict(
        depth=10,
        in_channels=1,
        norm_cfg=dict(momentum=0.1, type='BN'),
        type='mmext.WideResNet',
        widen_factor=1),
    head=dict(
        in_channels=64,
        loss=dict(loss_weight=1.0, type='CrossEntropyLoss'),
        num_classes=10,
        type='LinearClsHead'),
    neck=dict(type='GlobalAveragePooling'),
    type='ImageClassifier')
mu = 2
num_classes = 10
num_labels_per_class = 25
optim_wrapper = dict(
    optimizer=dict(
        lr=0.1, momentum=0.9, nesterov=True, type='SGD', weight_decay=0.0005),
    paramwise_cfg=dict(bias_decay_mult=0.0, norm_decay_mult=0.0))
param_scheduler = [
    dict(by_epoch=False, type='mmext.FixMatchCosineLR'),
]
randomness = dict(deterministic=False, seed=0)
resume = False
strong_pipeline = [
    dict(direction='horizontal', prob=0.5, type='RandomFlip'),
    dict(crop_size=28, padding=4, padding_mode='reflect', type='RandomCrop'),
    dict(
        transforms=[
            dict(
                hparams=dict(pad_val=128),
                magnitude_level=10,
                magnitude_std='inf',
                num_policies=2,
                policies='timm_increasing',
                total_level=10,
                type='RandAugment'),
        ],
        type='mmext.GreyAsColor'),
    dict(pad_val=128, shape=14, type='Cutout'),
    dict(type='PackInputs'),
]
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
train_cfg = dict(by_epoch=False, max_iters=32000, val_interval=8000)
train_dataloader = dict(
    batch_size=16,
    dataset=dict(
        dataset=dict(
            data_root='/work/main/data/fashion_mnist',
            download=False,
            pipeline=[],
            split='train',
            type='FashionMNIST'),
        labeled_pipeline=[
            dict(direction='horizontal', prob=0.5, type='RandomFlip'),
            dict(
                crop_size=28,
                padding=4,
                padding_mode='reflect',
                type='RandomCrop'),
            dict(type='PackInputs'),
        ],
        num_labels_per_class=100,
        split_seed=0,
        strong_pipeline=[
            dict(direction='horizontal', prob=0.5, type='RandomFlip'),
            dict(
                crop_size=28,
                padding=4,
                padding_mode='reflect',
                type='RandomCrop'),
            dict(
                transforms=[
                    dict(
                        hparams=dict(pad_val=128),
                        magnitude_level=10,
                        magnitude_std='inf',
                        num_policies=2,
                        policies='timm_increasing',
                        total_level=10,
                        type='RandAugment'),
                ],
                type='mmext.GreyAsColor'),
            dict(pad_val=128, shape=14, type='Cutout'),
            dict(type='PackInputs'),
        ],
        type='mmext.SemiSupervisedDataset',
        weak_pipeline=[
            dict(direction='horizontal', prob=0.5, type='RandomFlip'),
            dict(
                crop_size=28,
                padding=4,
                padding_mode='reflect',
                type='RandomCrop'),
            dict(type='PackInputs'),
        ]),
    num_workers=0,
    persistent_workers=False,
    sampler=dict(
        labeled_batch_size=16, mu=0, type='mmext.SemiSupervisedSampler'))
train_pipeline = [
    dict(crop_size=28, padding=2, type='RandomCrop'),
    dict(direction='horizontal', prob=0.5, type='RandomFlip'),
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
weak_pipeline = [
    dict(direction='horizontal', prob=0.5, type='RandomFlip'),
    dict(crop_size=28, padding=4, padding_mode='reflect', type='RandomCrop'),
    dict(type='PackInputs'),
]
work_dir = 'work_dirs/supervised-32000it_fm1000_s0'
