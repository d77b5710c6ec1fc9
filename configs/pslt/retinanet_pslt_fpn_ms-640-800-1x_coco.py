# RetinaNet with a PSLT backbone on COCO: the official recipe (FPN on the stride 8/16/32 maps with
# extra convs on the input, multi-scale training with the short side in [640, 800], AdamW lr 1e-4
# / wd 1e-4, 12 epochs, SyncBN in the conv units, 8 GPUs x 2 images).
_base_ = ['mmdet::retinanet/retinanet_r50_fpn_1x_coco.py']

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
    neck=dict(in_channels=[72, 144, 288, 576], start_level=1, add_extra_convs='on_input'))

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomResize', scale=[(1333, 640), (1333, 800)], keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, weight_decay=1e-4))

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
