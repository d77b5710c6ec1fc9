# Mirror of the paper's ImageNet setting (arXiv:2308.06689, official README): binary ResNet-18,
# 1W/1A, 250 epochs, batch 750 on one GPU, SGD lr 0.1 (momentum 0.9, weight decay 1e-4) with
# cosine decay, o_end = 3 (paper: 60.88% top-1). The stem, the downsample convs and the
# classifier stay full precision as in the official code; the blocks are mmpretrain's (the
# official model also adds a shortcut around every conv, Bi-Real style).
_base_ = [
    'mmpretrain::_base_/models/resnet18.py',
    'mmpretrain::_base_/datasets/imagenet_bs64.py',
    '../_base_/schedules/compression_sgd.py',
    'mmpretrain::_base_/default_runtime.py',
]

model = dict(
    _delete_=True,
    type='mmext.CompressedModel',
    model={{_base_.model}},
    replace=[
        dict(pattern=r'backbone\.layer\d\.\d+\.conv[12]', layer=dict(type='mmext.ReSTEConv2d')),
    ])

train_dataloader = dict(batch_size=750)
val_dataloader = dict(batch_size=256)
test_dataloader = val_dataloader

max_epochs = 250
param_scheduler = dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True, begin=0,
                       end=max_epochs)
train_cfg = dict(max_epochs=max_epochs)
auto_scale_lr = dict(base_batch_size=750)

custom_hooks = [dict(type='mmext.ReSTEHook', o_start=1.0, o_end=3.0, by_epoch=True)]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
