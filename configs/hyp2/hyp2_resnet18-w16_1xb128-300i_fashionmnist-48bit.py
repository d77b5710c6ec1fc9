# HyP^2 (arXiv 2208.06866) on Fashion-MNIST, trained here on CPU: the narrow CIFAR-style
# ResNet-18 of configs/baselines + a linear 48-bit HashingHead, HyP2Loss with the official
# beta 0.5 and zeta from the code table (48 bits, 10 classes -> 0). Single-label data: the pair
# term (multi-label samples only, as in the official code) is inactive, the proxy term trains.
# Retrieval: leave-one-out Hamming ranking on the 10k test images (mAP@all, mAP@1000), which
# keeps evaluation cheap on CPU (the paper's query / database split: see the VOC configs).
# 300 iterations of batch 128 (0.64 epoch) keep the run short on the shared 2-core CPU.
_base_ = [
    '../_base_/models/resnet18-w16_fashionmnist.py',
    '../_base_/datasets/fashion_mnist.py',
    '../_base_/schedules/sgd-300it_fashionmnist.py',
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

# the proxies are directions on the sphere: no weight decay
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={'head.loss_module.proxies': dict(decay_mult=0.)}))
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
