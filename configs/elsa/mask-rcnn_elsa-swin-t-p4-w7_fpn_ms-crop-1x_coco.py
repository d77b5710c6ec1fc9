# Mask R-CNN 1x with an ELSA-Swin-T backbone: the official recipe (DETR-style multi-scale + crop
# augmentation, AdamW lr 1e-4 / wd 0.05, 12 epochs with steps at 8 and 11, drop path 0.1,
# 8 GPUs x 2 images), on mmdet's Swin-T Mask R-CNN config.
_base_ = ['mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_ms-crop-3x_coco.py']

# ImageNet-1k ELSA-Swin-T: the official weights converted by
# tools/model_converters/elsa_to_mmext.py (configs/elsa/README.md, Pretrained weights)
pretrained = 'checkpoints/elsa-swin-tiny_in1k_mmext.pth'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmext.ELSASwin',
        arch='tiny',
        drop_path_rate=0.1,
        out_indices=(0, 1, 2, 3),
        # detection maps are padded to whole windows, as Swin does for dense tasks
        pad_small_map=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[96, 192, 384, 768]))

max_epochs = 12
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[8, 11],
         gamma=0.1)
]
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={
        'absolute_pos_embed': dict(decay_mult=0.),
        'relative_position_bias_table': dict(decay_mult=0.),
        'norm': dict(decay_mult=0.),
        'ghost_add': dict(decay_mult=0.),
    }))

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
