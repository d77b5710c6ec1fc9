# AdaNPC (arXiv 2304.12566) on Fashion-MNIST: the narrow CIFAR ResNet-18 baseline trained with
# the usual linear head (ERM) for 1 epoch; at val / test time the kNN memory is filled with
# source (training) features by mmext.AdaNPCMemoryHook and adapted with confident test samples.
# k=100, temperature=0.1, beta=0.1: the values the official adaptation script builds AdaNPC with
# (its runs then sweep them); official admission rule (softmax of the votes >= beta, which with
# 10 classes admits every test sample at beta=0.1).
_base_ = ['../baselines/resnet18-w16_1xb128-3e_fashionmnist.py']

model = dict(
    head=dict(
        type='mmext.AdaNPCHead',
        k=100,
        temperature=0.1,
        beta=0.1,
        admission='softmax',
        adapt=True))

train_cfg = dict(by_epoch=True, max_epochs=1, val_interval=1)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, convert_to_iter_based=True),
]

# source memory: training split without augmentation, first 10k images (a cheaper memory)
source_dataloader = dict(
    batch_size=256,
    num_workers=2,
    dataset=dict(
        type='FashionMNIST',
        data_root={{_base_.data_root}},
        split='train',
        download=False,
        pipeline=[dict(type='PackInputs')]),
    sampler=dict(type='DefaultSampler', shuffle=False))
custom_hooks = [
    dict(type='mmext.AdaNPCMemoryHook', dataloader=source_dataloader, max_samples=10000)
]
