# Mask R-CNN 1x (12 epochs) on COCO with an ImageNet-1k DilateFormer-Tiny backbone, with the
# usual transformer-backbone detection recipe (AdamW lr 1e-4, weight decay 0.05, no decay on norms).
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    'mmdet::_base_/datasets/coco_instance.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmext.DilateFormer',
        arch='tiny',
        drop_path_rate=0.1,
        out_indices=(0, 1, 2, 3),
        # Fine-tune from the ImageNet-1k classifier (dilateformer-tiny_8xb128-300e_in1k.py):
        # init_cfg=dict(type='Pretrained', checkpoint='CKPT.pth', prefix='backbone.'),
    ),
    neck=dict(in_channels=[72, 144, 288, 576]))

max_epochs = 12
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[8, 11],
         gamma=0.1),
]
optim_wrapper = dict(
    type='OptimWrapper',
    paramwise_cfg=dict(norm_decay_mult=0.),
    optimizer=dict(_delete_=True, type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05))
