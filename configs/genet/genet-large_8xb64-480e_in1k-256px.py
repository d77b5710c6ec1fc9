# GENet-large on ImageNet-1k at 256x256 (the input size of the released GENet-large; structure
# from GENet_large.txt of idstcv/GPU-Efficient-Networks). Same recipe as GENet-small; the
# architecture, head width and the 256px pipelines differ.
_base_ = ['./genet-small_8xb64-480e_in1k-192px.py']

model = dict(backbone=dict(arch='large'), head=dict(in_channels=2560))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=256),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=293, edge='short'),  # ceil(256 / 0.875), as official
    dict(type='CenterCrop', crop_size=256),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
