# LTS on a 2-bit (W2A2) LSQ-quantized Fashion-MNIST ResNet-8 (dense reference:
# ../gap/resnet8-w16_...): as in the official LTS models every conv (stem, block convs, 1x1
# shortcuts) and the classifier are quantized; the step sizes train with Adam at 1e-3 x the
# weights' lr and no weight decay (official: Adam 1e-4 next to SGD 0.1). Weights start freezing
# after one warm-up epoch with the official 'linear-growth' threshold; the EMA momentum is
# lowered from the paper's 0.99 (400 CIFAR epochs) to 0.9 for this 400-iteration schedule.
_base_ = ['../gap/resnet8-w16_1xb128-4e_fashionmnist.py']

model = dict(
    _delete_=True,
    type='mmext.CompressedModel',
    model={{_base_.model}},
    replace=[
        dict(pattern=r'backbone\.(conv1|layer\d\.\d+\.(conv[12]|downsample\.0))',
             layer=dict(type='mmext.LSQConv2d', weight_bits=2, act_bits=2)),
        dict(pattern=r'head\.fc', layer=dict(type='mmext.LSQLinear', weight_bits=2, act_bits=2)),
    ])

optim_wrapper = dict(
    optimizer=dict(type='mmext.SGDAdam'),
    paramwise_cfg=dict(custom_keys={
        'weight_step': dict(lr_mult=1e-3, decay_mult=0.0, adam=True),
        'act_step': dict(lr_mult=1e-3, decay_mult=0.0, adam=True)
    }))
custom_hooks = [
    dict(type='mmext.LTSHook', warmup=1, distance_ema=0.9, mode='linear-growth', by_epoch=True)
]
