# Mirror of the official CHEX ResNet-50 ImageNet recipe (arXiv:2203.15794; zejiangh/Filter-GaP
# README, "Example of applying CHEX to ResNet-50"): 250 epochs from scratch, 8 GPUs x 128 images,
# SGD lr 1.024 (batch 1024) with 8 warm-up epochs and cosine decay, momentum 0.875,
# weight decay 3.0517578125e-05, label smoothing 0.1, mixup 0.2, AMP with static loss scale 128;
# CHEX at channel sparsity 0.7, initial regrow ratio 0.3, a prune-regrow step every 2 epochs
# until epoch 180. The paper reports 1.0 GFLOPs / 76.0 top-1 and 2.0 GFLOPs / 77.4 top-1; the
# repository does not say which flags gave which row.
_base_ = [
    'mmpretrain::_base_/models/resnet50_label_smooth.py',
    'mmpretrain::_base_/datasets/imagenet_bs32.py',
    'mmpretrain::_base_/default_runtime.py',
]

model = dict(train_cfg=dict(augments=dict(type='Mixup', alpha=0.2)))
train_dataloader = dict(batch_size=128)
val_dataloader = dict(batch_size=128)
test_dataloader = val_dataloader

max_epochs = 250
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale=128.,
    optimizer=dict(type='SGD', lr=1.024, momentum=0.875, weight_decay=3.0517578125e-05))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=8,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 8, by_epoch=True, begin=8,
         end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=1024)

custom_hooks = [
    dict(type='mmext.CHEXHook', channel_sparsity=0.7, init_channel_ratio=0.3, interval=2,
         end=180),
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
