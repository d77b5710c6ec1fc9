# LTS on a 2-bit (W2A2) LSQ-quantized Fashion-MNIST ResNet-8 (dense reference:
# ../gap/resnet8-w16_...): every conv of the residual stages (block convs and 1x1 shortcuts) is
# quantized, the stem and the classifier stay full precision. Weights start freezing after one
# warm-up epoch with the official 'linear-growth' threshold; the EMA momentum is lowered from the
# paper's 0.99 (400 CIFAR epochs) to 0.9 for this 400-iteration schedule.
_base_ = ['../gap/resnet8-w16_1xb128-4e_fashionmnist.py']

model = dict(
    _delete_=True,
    type='mmext.CompressedModel',
    model={{_base_.model}},
    replace=[
        dict(pattern=r'backbone\.layer\d\.\d+\.(conv[12]|downsample\.0)',
             layer=dict(type='mmext.LSQConv2d', weight_bits=2, act_bits=2)),
    ])

# no weight decay on the learned step sizes
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={'weight_step': dict(decay_mult=0.0),
                                    'act_step': dict(decay_mult=0.0)}))
custom_hooks = [
    dict(type='mmext.LTSHook', warmup=1, distance_ema=0.9, mode='linear-growth', by_epoch=True)
]
