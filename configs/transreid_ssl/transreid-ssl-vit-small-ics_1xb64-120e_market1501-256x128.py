# TransReID-SSL ViT-S/16+ICS fine-tuned for re-ID on Market-1501 at 256x128 from the LUPerson
# DINO weights (official transreid_pytorch/configs/market/vit_small_ics.yml: lr 4e-4, batch 64,
# 120 epochs, drop path 0.1), as identity classification (see ../_base_/reid-id_*.py).
_base_ = ['../_base_/reid-id_1xb64-120e_market1501.py']

# the official ViT-S/16+ICS LUPerson weights converted by
# tools/model_converters/transreid_ssl_to_mmext.py (configs/transreid_ssl/README.md)
pretrained = 'checkpoints/transreid-ssl-vit-small-ics_lup_mmext.pth'

reid_size = (256, 128)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=reid_size[::-1]),
    _base_.reid_flip,
    dict(type='RandomCrop', crop_size=reid_size, padding=10),
    _base_.reid_erase,
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
model = dict(
    backbone=dict(
        type='mmext.TransReIDSSLViT',
        arch='small',
        img_size=reid_size,
        drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    head=dict(in_channels=384))

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
