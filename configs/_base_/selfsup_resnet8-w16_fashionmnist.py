# Shared part of the self-supervised Fashion-MNIST runs (configs/coke, configs/instance_classifier)
# and their supervised / random-init references: the CIFAR-style ResNet-8 (3x3 stem, 3 stages of
# one basic block, widths 16-32-64, 78k params) on 1-channel 28x28 images, trained on the first
# 5,000 training images (no label read by the self-supervised algorithms) for 20 epochs of 40
# iterations at batch 128 (SGD by default), validated every 5 epochs for the curves.
# Evaluation (./feature_probe_fashionmnist.py): weighted-kNN (k=200, T=0.07) and linear-probe
# top-1 of the frozen, global-average-pooled backbone features on the 10,000 test images, with
# the same 5,000 training images (test pipeline) as the bank; their labels are used there only.
# Configs add the model's neck / head and the optimizer.
_base_ = [
    './feature_probe_fashionmnist.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

backbone = dict(
    type='mmext.CIFARResNet', stage_blocks=(1, 1, 1), in_channels=1, stem_channels=16,
    base_channels=16)
selfsup_preprocessor = dict(
    type='SelfSupDataPreprocessor', mean={{_base_.data_preprocessor.mean}},
    std={{_base_.data_preprocessor.std}}, to_rgb=False)

# one augmented view of a 28x28 grey image: a crop of 20-100% of the area resized back,
# horizontal flip, brightness jitter (mmcv's contrast and saturation ops need 3 channels; no
# colour on grey images), a light blur
view_pipeline = [
    dict(type='RandomResizedCrop', scale=28, crop_ratio_range=(0.2, 1.), backend='pillow'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomApply', prob=0.8, transforms=[
        dict(type='ColorJitter', brightness=0.4, backend='cv2')]),
    dict(type='GaussianBlur', magnitude_range=(0.1, 1.0), magnitude_std='inf', prob=0.2),
]
num_train = 5000
train_dataloader = dict(
    batch_size=128,
    num_workers=0,
    persistent_workers=False,
    collate_fn=dict(type='default_collate'),
    dataset=dict(indices=num_train))
# default_collate: mmpretrain's SelfSupDataPreprocessor reads a list of inputs (what
# pseudo_collate gives) as a list of views
main_process_loader = dict(
    num_workers=0, persistent_workers=False, collate_fn=dict(type='default_collate'))
val_dataloader = main_process_loader
test_dataloader = main_process_loader
val_cfg = dict(bank_dataloader=dict(main_process_loader, dataset=dict(indices=num_train)))
test_cfg = dict(val_cfg, type='mmext.FeatureProbeTestLoop')  # tools/test.py writes its json

# default optimisation (supervised reference, instance classifier; CoKe uses LARS): SGD lr 0.1,
# Nesterov momentum 0.9, weight decay 5e-4, one warm-up epoch, then cosine decay
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=1, convert_to_iter_based=True),
]
max_epochs = 20
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=5)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', interval=max_epochs, max_keep_ckpts=1))
randomness = dict(seed=0, deterministic=False)
