# The main job: a narrow CIFAR-style ResNet-18 (3x3 stem, no max-pool; widths 16-128, 0.7M params)
# trained from scratch on Fashion-MNIST for 3 epochs on CPU.
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
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, loss_weight=1.0)))

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    # no end / T_max: the decay runs to the loop's max_epochs, whatever --cfg-options sets
    dict(type='CosineAnnealingLR', by_epoch=True, begin=1, convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=3, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=128)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2, save_best='auto'))
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
randomness = dict(seed=0, deterministic=False)
