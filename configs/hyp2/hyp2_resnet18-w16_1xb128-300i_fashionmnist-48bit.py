# HyP^2 (arXiv 2208.06866) on Fashion-MNIST, trained here on CPU: the narrow CIFAR-style
# ResNet-18 of configs/baselines + a linear 48-bit HashingHead, HyP2Loss with the official
# beta 0.5 and zeta from the code table (48 bits, 10 classes -> 0). Single-label data: the pair
# term (multi-label samples only, as in the official code) is inactive, the proxy term trains.
# Retrieval: leave-one-out Hamming ranking on the 10k test images (mAP@all, mAP@1000), which
# keeps evaluation cheap on CPU (the paper's query / database split: see the VOC configs).
_base_ = [
    '../_base_/models/resnet18-w16_fashionmnist.py',
    '../_base_/datasets/fashion_mnist.py',
    'mmpretrain::_base_/default_runtime.py',
]

model = dict(
    head=dict(
        type='mmext.HashingHead',
        num_classes=10,
        in_channels=128,
        code_length=48,
        loss=dict(type='mmext.HyP2Loss', beta=0.5)))

val_evaluator = dict(type='mmext.HashingMAP', topk=(None, 1000))
test_evaluator = val_evaluator

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True),
    # the proxies are directions on the sphere: no weight decay
    paramwise_cfg=dict(custom_keys={'head.loss_module.proxies': dict(decay_mult=0.)}))
# 300 iterations of batch 128 (0.64 epoch) keep the run short on the shared 2-core CPU
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=30),
    dict(type='CosineAnnealingLR', T_max=270, by_epoch=False, begin=30, end=300),
]
train_cfg = dict(by_epoch=False, max_iters=300, val_interval=300)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=128)

log_processor = dict(by_epoch=False)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=300, max_keep_ckpts=1))
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
randomness = dict(seed=0, deterministic=False)
