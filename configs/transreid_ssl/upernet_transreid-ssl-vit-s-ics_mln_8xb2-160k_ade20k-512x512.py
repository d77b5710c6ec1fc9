# UperNet on ADE20K with the TransReID-SSL ViT-S/16+ICS backbone (LUPerson DINO weights) in
# place of DeiT-S in mmseg's ViT UperNet (layers 3, 6, 9, 12 through MultiLevelNeck, AdamW 6e-5,
# 160k iterations, 8 GPUs x 2 images). The paper reports re-ID only: this is a recipe for using
# the backbone in mmseg.
_base_ = ['mmseg::vit/vit_deit-s16_mln_upernet_8xb2-160k_ade20k-512x512.py']

pretrained = 'checkpoints/transreid-ssl-vit-small-ics_lup_mmext.pth'

model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='mmext.TransReIDSSLViT',
        arch='small',
        img_size=(512, 512),
        out_indices=(2, 5, 8, 11),
        out_type='featmap',
        drop_path_rate=0.1,
        bn_cfg=dict(type='SyncBN'),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')))

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
