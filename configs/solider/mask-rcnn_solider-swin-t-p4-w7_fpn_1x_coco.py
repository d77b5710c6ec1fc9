# Mask R-CNN 1x on COCO with the SOLIDER Swin-T backbone (LUPerson weights), on mmdet's Swin-T
# Mask R-CNN 1x config (AdamW 1e-4, 12 epochs, 8 GPUs x 2 images). Semantic weight 1.0, the
# value of the official pedestrian-detection configs (SOLIDER-PedestrianDetection
# configs/solider/cp/swin_*.py).
_base_ = ['mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py']

pretrained = 'checkpoints/solider-swin-tiny_lup_mmext.pth'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmext.SOLIDERSwin',
        arch='tiny',
        semantic_weight=1.0,
        drop_path_rate=0.2,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[96, 192, 384, 768]))

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
