# MDDC (arXiv 2210.05126) mirror of the paper's CIFAR-10 setting at the model level: a
# ResNet-34 with CIFAR stem (the paper builds on PLC's PreAct ResNet-34), and a
# DistributionCalibrationHead with the mean-based estimator. The optimiser and schedule (SGD
# 0.01, batch 128, 180 epochs, 15 warm-up epochs) are our choice, not numbers from the paper.
# The paper corrupts CIFAR-10 with PMD noise (not generated here): point the train dataset at
# noisy labels of your own (e.g. an mmpretrain ann file) before training.
_base_ = [
    'mmpretrain::_base_/datasets/cifar10_bs16.py',
    'mmpretrain::_base_/default_runtime.py',
]

model = dict(
    type='ImageClassifier',
    backbone=dict(type='ResNet_CIFAR', depth=34, num_stages=4, out_indices=(3, ),
                  style='pytorch'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='mmext.DistributionCalibrationHead',
        num_classes=10,
        in_channels=512,
        memory_size=512,
        warmup_iters=15 * 391,  # 15 epochs of 50k / 128
        calib_interval=391,  # re-estimate once per epoch
        correct_thr=0.5,
        min_count=64,
        loss=dict(type='mmext.DistributionCalibrationLoss', mode='mean', num_samples=16)))

train_dataloader = dict(batch_size=128)
val_dataloader = dict(batch_size=256)
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4))
param_scheduler = dict(type='MultiStepLR', by_epoch=True, milestones=[60, 120], gamma=0.5)
train_cfg = dict(by_epoch=True, max_epochs=180, val_interval=10)
val_cfg = dict()
test_cfg = dict()

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
