# Mask R-CNN 1x on COCO with the TransReID-SSL ViT-S/16+ICS backbone (LUPerson DINO weights).
# The plain ViT gives stride-16 maps of layers 4, 6, 8 and 12; mmseg's MultiLevelNeck resamples
# them to strides 4 / 8 / 16 / 32 (x4, x2, x1, x0.5) for the FPN, as mmseg's ViT UperNet does.
# The paper reports re-ID only: this is a recipe for using the backbone in mmdet, with mmdet's
# ResNet-50 Mask R-CNN 1x schedule (SGD 0.02, 8 GPUs x 2 images).
_base_ = ['mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py']

pretrained = 'checkpoints/transreid-ssl-vit-small-ics_lup_mmext.pth'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmext.TransReIDSSLViT',
        arch='small',
        img_size=(800, 1344),
        out_indices=(3, 5, 7, 11),
        out_type='featmap',
        drop_path_rate=0.1,
        bn_cfg=dict(type='SyncBN'),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=[
        dict(type='mmseg.MultiLevelNeck', in_channels=[384] * 4, out_channels=384,
             scales=[4, 2, 1, 0.5]),
        dict(type='FPN', in_channels=[384] * 4, out_channels=256, num_outs=5),
    ])

custom_imports = dict(imports=['mmext', 'mmseg.models'], allow_failed_imports=False)
