# Mirror of the paper's CIFAR setting (arXiv:2211.08544, official readme): 2-bit (W2A2)
# ResNet-20, 400 epochs, batch 128, SGD lr 0.1 for the weights and Adam lr 1e-4 for the quantizer
# parameters, step decay at 100/200/300, LTS with warm-up 80 epochs, 'linear-growth', distance EMA
# 0.99. Stem, residual convs and classifier are all quantized, as in the official model. The
# official run starts from a full-precision checkpoint (load_from); set ``load_from``
# to one trained with the same model and plain convs.
_base_ = [
    '../_base_/models/cifar-resnet20.py',
    'mmpretrain::_base_/datasets/cifar10_bs16.py',
    '../_base_/schedules/lts_sgd.py',
    'mmpretrain::_base_/default_runtime.py',
]

model = dict(
    _delete_=True,
    type='mmext.CompressedModel',
    model={{_base_.model}},
    replace=[
        dict(pattern=r'backbone\.(conv1|layer\d\.\d+\.(conv[12]|downsample\.0))',
             layer=dict(type='mmext.LSQConv2d', weight_bits=2, act_bits=2)),
        dict(pattern=r'head\.fc', layer=dict(type='mmext.LSQLinear', weight_bits=2, act_bits=2)),
    ])

train_dataloader = dict(batch_size=128)
max_epochs = 400
param_scheduler = dict(type='MultiStepLR', by_epoch=True, milestones=[100, 200, 300], gamma=0.1)
train_cfg = dict(max_epochs=max_epochs, val_interval=10)

custom_hooks = [
    dict(type='mmext.LTSHook', warmup=80, distance_ema=0.99, mode='linear-growth',
         by_epoch=True)
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
