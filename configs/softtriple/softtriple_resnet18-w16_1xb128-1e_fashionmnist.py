# SoftTriple (arXiv 1909.05235) on Fashion-MNIST, trained here on CPU: the ResNet-18 baseline of
# configs/baselines (narrow CIFAR-style, widths 16-128, same data and SGD optimizer) with a 64-d
# SoftTripleHead with the paper's loss hyper-parameters (K=10, lambda=20, gamma=0.1, tau=0.2,
# delta=0.01), for one epoch. Retrieval is evaluated leave-one-out on the 10k test images
# (Recall@1/2/4/8) plus the accuracy of the class scores.
_base_ = ['../baselines/resnet18-w16_1xb128-3e_fashionmnist.py']

model = dict(
    head=dict(
        _delete_=True,
        type='mmext.SoftTripleHead',
        num_classes=10,
        in_channels=128,
        embed_dims=64,
        num_centers=10,
        loss=dict(type='mmext.SoftTripleLoss', la=20., gamma=0.1, tau=0.2, margin=0.01)))

val_evaluator = [dict(type='mmext.RecallAtK', topk=(1, 2, 4, 8)), dict(type='Accuracy', topk=(1, ))]
test_evaluator = val_evaluator

# the paper trains the centers with a 100x larger learning rate than the network (Adam 1e-4 /
# 1e-2); from scratch here we use the baseline's SGD for both, and no weight decay on the
# (normalised) centers
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'head.centers': dict(decay_mult=0.)}))
# one epoch (469 iterations) keeps the CPU run under ~8 minutes: short warm-up, then cosine
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    # from iteration 50 of the 469 of a full epoch (0.1067 x 469 = 50.04) to the end; in
    # epochs so that a shorter epoch (fewer samples) shrinks it
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0.1067, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=1)
default_hooks = dict(
    checkpoint=dict(max_keep_ckpts=1, save_best='retrieval/Recall@1', rule='greater'))
