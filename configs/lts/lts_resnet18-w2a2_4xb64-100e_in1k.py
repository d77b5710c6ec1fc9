# Mirror of the paper's ImageNet setting (arXiv:2211.08544, official run/train_resnet18.sh): 2-bit
# (W2A2) ResNet-18, 100 epochs, batch 256, SGD lr 0.1 for the weights and Adam lr 1e-4 for the
# quantizer parameters, step decay at epochs 30/60/90, LTS with warm-up 20 epochs, 'linear-growth'
# and distance EMA 0.9999 (paper: +1.41% top-1 over the 2-bit baseline while removing 56% of the
# weight updates and 28% of the backward FLOPs). As in the official model every conv, the stem
# included, and the classifier are quantized to 2 bits (and frozen by LTS). Quantizer: LSQ
# (learned step) instead of the official learned clipping bounds.
_base_ = [
    'mmpretrain::_base_/models/resnet18.py',
    'mmpretrain::_base_/datasets/imagenet_bs64.py',
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

max_epochs = 100
param_scheduler = dict(type='MultiStepLR', by_epoch=True, milestones=[30, 60, 90], gamma=0.1)
train_cfg = dict(max_epochs=max_epochs)
auto_scale_lr = dict(base_batch_size=256)

custom_hooks = [
    dict(type='mmext.LTSHook', warmup=20, distance_ema=0.9999, mode='linear-growth',
         by_epoch=True)
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
