# PSLT (9.2M) on ImageNet-1k: the official DeiT-style recipe (300 epochs, AdamW lr 5e-4 per 512
# images -> 1e-3 at 8 GPUs x 128, wd 0.025, 5 warm-up epochs from 1e-6, cosine to 1e-6, drop path
# 0.2, RandAugment m9, mixup 0.8, cutmix 1.0, random erasing 0.25, label smoothing 0.1; evaluated
# at 224 after resizing to 256), on mmpretrain's bases.
_base_ = [
    'mmpretrain::_base_/models/swin_transformer/tiny_224.py',
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py',
    'mmpretrain::_base_/schedules/imagenet_bs1024_adamw_swin.py',
    'mmpretrain::_base_/default_runtime.py',
]

# mmpretrain's Swin classifier (head, init, Mixup / CutMix) with our backbone
model = dict(
    backbone=dict(_delete_=True, type='mmext.PSLT', arch='base', drop_path_rate=0.2),
    head=dict(in_channels=576))

train_dataloader = dict(batch_size=128)
val_dataloader = dict(batch_size=128)
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(weight_decay=0.025))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=5)
]

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
