# Mirror of the paper's CIFAR-10 setting (arXiv:2308.06689, official README): binary ResNet-20,
# 1W/1A, 1000 epochs, batch 256, SGD lr 0.1 (momentum 0.9, weight decay 1e-4), 5 warm-up epochs
# then cosine, o_end = 3 (paper: 86.75% top-1). The stem, the shortcut convs and the classifier
# stay full precision. Differences from the official code: mmpretrain basic blocks (conv-BN-ReLU
# order) and 1x1-conv ("option B") shortcuts instead of the zero-padding "option A".
_base_ = [
    '../_base_/models/cifar-resnet20.py',
    'mmpretrain::_base_/datasets/cifar10_bs16.py',
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

train_dataloader = dict(batch_size=256)
val_dataloader = dict(batch_size=128)
test_dataloader = val_dataloader

max_epochs = 1000
param_scheduler = [
    dict(type='LinearLR', start_factor=0.2, by_epoch=True, begin=0, end=5),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 5, by_epoch=True, begin=5,
         end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=10)
auto_scale_lr = dict(base_batch_size=256)

custom_hooks = [dict(type='mmext.ReSTEHook', o_start=1.0, o_end=3.0, by_epoch=True)]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
