# Dash (RandAugment variant) on CIFAR-10 with 250 labels (25 per class), mirroring the official
# recipe (idstcv/Dash on the FixMatch code): WRN-28-2, 64 labelled + 7 x 64 unlabelled images
# (weak + strong views) per iteration, 2^20 iterations (1024 "epochs" of 1024 iterations = 64 Ki
# labelled images), SGD Nesterov 0.9, lr 0.03 with lr_0 cos(7 pi k / 16 K), weight decay 5e-4 on
# the kernels, EMA 0.999 for evaluation. Dash flags of the official start_train.sh: gamma 1.27,
# T 0.5, dt_start_epoch 10 (warm-up), drop_step 9, min_select_th 0.05; the unlabelled loss
# scaled by 0.9 and averaged over the kept samples. rho_hat: mean of the last N_u = 49,750
# per-sample unlabelled losses of the warm-up, i.e. its last 111 iterations (49,750 / 448).
# Built and forwarded in the tests only (no CIFAR-10 or GPU here); expects mmpretrain's CIFAR10
# files under data/cifar10.
_base_ = ['../_base_/schedules/fixmatch_sgd-1024e.py']

num_labels_per_class = 25
labeled_batch_size = 64
mu = 7
epoch_iters = 1024  # as the schedule base

data_preprocessor = dict(
    num_classes=10,
    mean=[125.307, 122.961, 113.8575],
    std=[51.5865, 50.847, 51.255],
    to_rgb=False)

model = dict(
    type='mmext.DashClassifier',
    backbone=dict(type='mmext.WideResNet', depth=28, widen_factor=2),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead', num_classes=10, in_channels=128,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)),
    selection=dict(
        type='dash', gamma=1.27, C=1.0, rho_min=0.05, epoch_iters=epoch_iters,
        warmup_epochs=10, decay_epochs=9, estimate_iters=111),
    lambda_u=0.9,
    temperature=0.5,
    normalize='kept')

weak_pipeline = [
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomCrop', crop_size=32, padding=4, padding_mode='reflect'),
    dict(type='PackInputs'),
]
strong_pipeline = [
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomCrop', crop_size=32, padding=4, padding_mode='reflect'),
    dict(
        type='RandAugment',
        policies='timm_increasing',
        num_policies=2,
        total_level=10,
        magnitude_level=10,
        magnitude_std='inf',
        hparams=dict(pad_val=[128, 128, 128])),
    dict(type='Cutout', shape=16, pad_val=[128, 128, 128]),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=labeled_batch_size * (1 + 2 * mu),
    num_workers=8,
    persistent_workers=True,
    dataset=dict(
        type='mmext.SemiSupervisedDataset',
        dataset=dict(type='CIFAR10', data_root='data/cifar10', split='train', pipeline=[]),
        num_labels_per_class=num_labels_per_class,
        labeled_pipeline=weak_pipeline,
        weak_pipeline=weak_pipeline,
        strong_pipeline=strong_pipeline,
        split_seed=0),
    sampler=dict(type='mmext.SemiSupervisedSampler', labeled_batch_size=labeled_batch_size, mu=mu),
)
val_dataloader = dict(
    batch_size=256,
    num_workers=4,
    dataset=dict(
        type='CIFAR10', data_root='data/cifar10', split='test', test_mode=True,
        pipeline=[dict(type='PackInputs')]),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_dataloader = val_dataloader
test_evaluator = val_evaluator

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
