# SOLIDER Swin-T fine-tuned for re-ID on Market-1501 at 384x128 from the LUPerson weights
# (official SOLIDER-REID configs/market/swin_tiny.yml and run.sh: semantic weight 0.2, lr 8e-4,
# batch 64, 120 epochs, drop path 0.1, the average-pooled last stage as the feature), as
# identity classification (see ../_base_/reid-id_1xb64-120e_market1501.py).
_base_ = ['../_base_/reid-id_1xb64-120e_market1501.py']

# the official SOLIDER Swin-T weights converted by tools/model_converters/solider_to_mmext.py
# (configs/solider/README.md)
pretrained = 'checkpoints/solider-swin-tiny_lup_mmext.pth'

reid_size = (384, 128)
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
        type='mmext.SOLIDERSwin',
        arch='tiny',
        semantic_weight=0.2,
        img_size=reid_size,
        drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(in_channels=768))
optim_wrapper = dict(optimizer=dict(lr=8e-4))

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
