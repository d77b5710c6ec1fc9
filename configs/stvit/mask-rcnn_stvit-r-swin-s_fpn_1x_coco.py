# Mask R-CNN with an STViT-R-Swin-S backbone on COCO (the paper's downstream setting; the
# official detection code is changsn/STViT-R-Object-Detection, built on the Swin detection
# recipe). STViT-R recovers dense image tokens, so all four stages feed the FPN.
_base_ = ['mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py']
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

# ImageNet-1k STViT-R-Swin-S: the official weights converted by
# tools/model_converters/stvit_to_mmext.py (configs/stvit/README.md, Pretrained weights)
pretrained = 'checkpoints/stvit-r-swin-small_in1k_mmext.pth'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmext.STViT',
        arch='small',
        drop_path_rate=0.2,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[96, 192, 384, 768]))
