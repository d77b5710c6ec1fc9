# Dash on Fashion-MNIST with 250 labels (25 per class), sized for a shared 2-core CPU: a
# WRN-10-1 (the FixMatch Wide ResNet with one block per group, widths 16-32-64, 1 input
# channel), 16 labelled + 2 x 16 unlabelled images (weak + strong) per iteration, 300
# iterations. The Dash schedule is compressed with the run (the official one spans 2^20
# iterations): "epochs" of 10 iterations, 3 warm-up epochs (30 iterations, every unlabelled
# sample kept; the last 10 iterations' unlabelled losses give rho_hat), then the threshold
# rho_hat * 1.27^-((t - 1) // 1) drops every epoch until the 0.05 floor.
_base_ = [
    '../_base_/datasets/fashion_mnist_semi.py',
    '../_base_/schedules/fixmatch-sgd-300it_fashionmnist.py',
]

model = dict(
    type='mmext.DashClassifier',
    backbone=dict(type='mmext.WideResNet', depth=10, widen_factor=1, in_channels=1),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead', num_classes=10, in_channels=64,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)),
    selection=dict(
        type='dash', gamma=1.27, C=1.0, rho_min=0.05, epoch_iters=10, warmup_epochs=3,
        decay_epochs=1, estimate_iters=10),
    # the official code scales the unlabelled loss by 0.9 (with wu = 1)
    lambda_u=0.9,
    temperature=0.5,
    normalize='kept')

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
