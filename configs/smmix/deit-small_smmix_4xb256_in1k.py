# DeiT-S trained with SMMix (arXiv 2212.12977) on ImageNet-1k, 300 epochs (paper: 81.1 top-1,
# DeiT-S baseline 79.8). Differences from mmpretrain's DeiT-S recipe follow the official code
# (ChenMnZ/SMMix main.py): per batch, SMMix with probability 0.5 and Mixup (alpha 0.8) otherwise
# (it replaces DeiT's CutMix), square regions with sides 0.25-0.75 of the 14x14 token grid,
# label smoothing 0.1, and no random erasing (--reprob 0).
_base_ = ['mmpretrain::deit/deit-small_4xb256_in1k.py']
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    type='mmext.SMMixClassifier',
    backbone=dict(out_type='raw'),
    smmix_prob=0.5,
    min_side_ratio=0.25,
    max_side_ratio=0.75,
    label_smoothing=0.1,
    mix_augments=dict(type='Mixup', alpha=0.8),
    # the batch augments of the DeiT recipe are replaced by SMMix / mix_augments above
    train_cfg=None)

bgr_mean = [103.53, 116.28, 123.675]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224, backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(
        type='RandAugment',
        policies='timm_increasing',
        num_policies=2,
        total_level=10,
        magnitude_level=9,
        magnitude_std=0.5,
        hparams=dict(pad_val=[round(x) for x in bgr_mean], interpolation='bicubic')),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
