# ImageNet-1k recipe of the official Zen-NAS training scripts (GENet development moved there),
# shared by the GENet and ZenNet configs: SGD nesterov, lr 0.1 per 256 images, weight decay
# 4e-5, 5 warm-up epochs, cosine to 0, 480 epochs, total batch 512 (their BN momentum 0.01 and
# EfficientNet-B3 teacher distillation are not reproduced).
_base_ = ['mmpretrain::_base_/schedules/imagenet_bs256_coslr.py']

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.2, momentum=0.9, weight_decay=4e-5, nesterov=True))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=475, by_epoch=True, begin=5, end=480,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=480, val_interval=1)
auto_scale_lr = dict(base_batch_size=512)
