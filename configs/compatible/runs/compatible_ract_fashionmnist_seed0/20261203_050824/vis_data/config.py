auto_scale_lr = dict(base_batch_size=128)
compat_pairs = dict(
    new_new=(
        'embedding',
        'embedding',
    ),
    new_old=(
        'embedding',
        'old_embedding',
    ),
    old_old=(
        'old_embedding',
        'old_embedding',
    ))
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
        interval=300,
        max_keep_ckpts=1,
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
log_processor = dict(by_epoch=False)
max_epochs = 4
model = dict(
    distill=[
        dict(
            loss=dict(temperature=0.05, topk_neg=10, type='mmext.RACTLoss'),
            name='loss_ract',
            student='neck',
            teacher='neck',
            weight=1.0),
    ],
    input_shape=(
        1,
        28,
        28,
    ),
    student=
    '/work/main/configs/compatible/old_resnet8-w16_1xb128-100it_fashionmnist.py',
    teacher=
    '/work/main/configs/compatible/old_resnet8-w16_1xb128-100it_fashionmnist.py',
    teacher_ckpt='work_dirs/compatible_old_fashionmnist_seed0/iter_100.pth',
    type='mmext.CompatibleDistiller')
num_classes = 10
optim_wrapper = dict(
    optimizer=dict(
        lr=0.1, momentum=0.9, nesterov=True, type='SGD', weight_decay=0.0005))
param_scheduler = [
    dict(begin=0, by_epoch=False, end=30, start_factor=0.1, type='LinearLR'),
    dict(begin=30, by_epoch=False, type='CosineAnnealingLR'),
]
randomness = dict(deterministic=False, seed=0)
resume = False
test_cfg = dict()
test_dataloader = dict(
    batch_size=256,
    dataset=dict(
        data_root='/work/main/data/fashion_mnist',
        download=False,
        indices=5000,
        pipeline=[
            dict(type='PackInputs'),
        ],
        split='test',
        test_mode=True,
        type='FashionMNIST'),
    num_workers=1,
    persistent_workers=True,
    sampler=dict(shuffle=False, type='DefaultSampler'))
test_evaluator = [
    dict(topk=(1, ), type='Accuracy'),
    dict(
        num_queries=1000,
        pairs=dict(
            new_new=(
                'embedding',
                'embedding',
            ),
            new_old=(
                'embedding',
                'old_embedding',
            ),
            old_old=(
                'old_embedding',
                'old_embedding',
            )),
        topk=(
            1,
            5,
        ),
        type='mmext.QueryGalleryMAP'),
]
test_pipeline = [
    dict(type='PackInputs'),
]
train_cfg = dict(by_epoch=False, max_iters=300, val_interval=300)
train_dataloader = dict(
    batch_size=128,
    dataset=dict(
        data_root='/work/main/data/fashion_mnist',
        download=False,
        indices=12800,
        pipeline=[
            dict(crop_size=28, padding=2, type='RandomCrop'),
            dict(direction='horizontal', prob=0.5, type='RandomFlip'),
            dict(type='PackInputs'),
        ],
        split='train',
        type='FashionMNIST'),
    num_workers=1,
    persistent_workers=True,
    sampler=dict(shuffle=True, type='DefaultSampler'))
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
        indices=5000,
        pipeline=[
            dict(type='PackInputs'),
        ],
        split='test',
        test_mode=True,
        type='FashionMNIST'),
    num_workers=1,
    persistent_workers=True,
    sampler=dict(shuffle=False, type='DefaultSampler'))
val_evaluator = [
    dict(topk=(1, ), type='Accuracy'),
    dict(
        num_queries=1000,
        pairs=dict(
            new_new=(
                'embedding',
                'embedding',
            ),
            new_old=(
                'embedding',
                'old_embedding',
            ),
            old_old=(
                'old_embedding',
                'old_embedding',
            )),
        topk=(
            1,
            5,
        ),
        type='mmext.QueryGalleryMAP'),
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
work_dir = 'work_dirs/compatible_ract_fashionmnist_seed0'
