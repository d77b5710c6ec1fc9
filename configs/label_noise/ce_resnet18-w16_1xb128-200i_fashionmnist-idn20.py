# Plain cross-entropy baseline on Fashion-MNIST with 20% instance-dependent label noise (IDN of
# Xia et al. 2020, written by `python tools/dataset_converters/label_noise.py --rate 0.2`),
# for comparison with MDDC / CDDC (arXiv 2210.05126). Narrow CIFAR-style ResNet-18 of
# configs/baselines, 200 iterations of batch 128 (0.43 epoch) so that a run stays short on the
# shared 2-core CPU. Evaluated on the clean 10k test images.
_base_ = [
    '../_base_/models/resnet18-w16_fashionmnist.py',
    '../_base_/datasets/fashion_mnist.py',
    '../_base_/schedules/sgd-300it_fashionmnist.py',
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

# the shared SGD schedule shortened to 200 iterations (20 of warm-up)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=20),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=20),
]
train_cfg = dict(max_iters=200, val_interval=200)
default_hooks = dict(checkpoint=dict(interval=200))
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
