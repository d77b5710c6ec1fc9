# Mirror of the paper's ImageNet setting (arXiv:2206.06662, official README and paper section 4):
# ResNet-50 with 2:4 sparse convs in every bottleneck (stem and classifier dense), 120 epochs,
# batch 256, SGD lr 0.1 with 5 linear warm-up epochs then cosine, momentum 0.9, weight decay
# 5e-4, label smoothing 0.1, combinations removed from t_i = 0 to t_f = 60 (half of training).
_base_ = [
    'mmpretrain::_base_/models/resnet50_label_smooth.py',
    'mmpretrain::_base_/datasets/imagenet_bs64.py',
    '../_base_/schedules/compression_sgd.py',
    'mmpretrain::_base_/default_runtime.py',
]

model = dict(
    _delete_=True,
    type='mmext.CompressedModel',
    model={{_base_.model}},
    replace=[
        dict(pattern=r'backbone\.layer\d\.\d+\.(conv[123]|downsample\.0)',
             layer=dict(type='mmext.LBCConv2d', N=2, M=4)),
    ])

train_dataloader = dict(batch_size=256)
max_epochs = 120
# the shared compression SGD recipe with LBC's weight decay; as the official optimizer, no decay
# on the parameters whose name contains "bn" (the BN layers of the stem and the blocks; the
# downsample BNs, named downsample.1 in both codes, keep it)
optim_wrapper = dict(
    optimizer=dict(weight_decay=5e-4),
    paramwise_cfg=dict(custom_keys={'bn': dict(decay_mult=0.0)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 5, by_epoch=True, begin=5,
         end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs)
auto_scale_lr = dict(base_batch_size=256)

custom_hooks = [dict(type='mmext.LBCHook', start=0, end=60, by_epoch=True)]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
