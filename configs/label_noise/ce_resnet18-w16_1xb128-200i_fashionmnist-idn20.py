# Plain cross-entropy baseline on Fashion-MNIST with 20% instance-dependent label noise (IDN of
# Xia et al. 2020, written by `python tools/dataset_converters/label_noise.py --rate 0.2`),
# for comparison with MDDC / CDDC (arXiv 2210.05126). Narrow CIFAR-style ResNet-18 of
# configs/baselines, 200 iterations of batch 128 (0.43 epoch) so that a run stays short on the
# shared 2-core CPU. Evaluated on the clean 10k test images.
_base_ = [
    '../_base_/models/resnet18-w16_fashionmnist.py',
    '../_base_/datasets/fashion_mnist.py',
    'mmpretrain::_base_/default_runtime.py',
]

model = dict(
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=128,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))

train_dataloader = dict(
    dataset=dict(
        type='mmext.NoisyLabelFashionMNIST',
        noisy_label_file='noisy_labels/idn-0.2_seed0.npy'))

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=20),
    dict(type='CosineAnnealingLR', T_max=180, by_epoch=False, begin=20, end=200),
]
train_cfg = dict(by_epoch=False, max_iters=200, val_interval=200)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=128)

log_processor = dict(by_epoch=False)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=200, max_keep_ckpts=1))
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
randomness = dict(seed=0, deterministic=False)
