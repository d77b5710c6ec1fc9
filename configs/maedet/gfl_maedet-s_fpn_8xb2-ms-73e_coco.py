# MAE-DET-S in GFL on COCO, the official recipe of alibaba/lightweight-neural-architecture-search
# (configs/detection/models/gfocal_maedet/maedet_s_6x_lr0.02.py): from scratch, SyncBN, 8 GPUs x
# 2 images, SGD lr 0.02, 73 epochs (steps at 65 / 71, 7330 warm-up iterations from 0.1x),
# multi-scale training (short side 480-960, long side <= 1333), single-scale test 1333x800.
# The official head is GFocalV2's (DGQP quality branch); mmdet has GFocal V1's GFLHead, used
# here with the same reg_max 16, QFL / DFL 0.25 / GIoU 2.0 losses and ATSS top-9.
_base_ = ['mmdet::gfl/gfl_r50_fpn_ms-2x_coco.py']
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmext.MAEDet',
        arch='s',
        out_indices=(0, 1, 2, 3),
        norm_cfg=dict(type='SyncBN', requires_grad=True)),
    neck=dict(
        in_channels=[48, 272, 1024, 2048],
        out_channels=192,
        start_level=1,
        add_extra_convs='on_output',
        num_outs=5),
    bbox_head=dict(in_channels=192, feat_channels=192),
    test_cfg=dict(nms=dict(type='nms', iou_threshold=0.6)))

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomResize', scale=[(1333, 480), (1333, 960)], keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
train_dataloader = dict(batch_size=2, dataset=dict(pipeline=train_pipeline))

max_epochs = 73
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=7330),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[65, 71],
         gamma=0.1)
]
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001))
auto_scale_lr = dict(enable=False, base_batch_size=16)
