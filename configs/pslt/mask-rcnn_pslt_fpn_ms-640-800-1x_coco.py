# Mask R-CNN with a PSLT backbone on COCO: the official recipe (multi-scale training with the short
# side in [640, 800], AdamW lr 6e-5 / wd 1e-4, 12 epochs with steps at 8 and 11, SyncBN in the
# conv units, 8 GPUs x 2 images; the official file calls this multi-scale setting "3x").
_base_ = ['mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py']

# ImageNet-1k PSLT weights: the official pslt.pth converted by
# python tools/model_converters/pslt_to_mmext.py pslt.pth work_dirs/pslt_mmext.pth
pretrained = 'work_dirs/pslt_mmext.pth'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmext.PSLT',
        arch='base',
        out_indices=(0, 1, 2, 3),
        conv_norm_cfg=dict(type='SyncBN', requires_grad=True),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[72, 144, 288, 576]))

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomResize', scale=[(1333, 640), (1333, 800)], keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=6e-5, weight_decay=1e-4))

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
