# LBC 2:4 on the Fashion-MNIST ResNet-8 (dense reference: ../gap/resnet8-w16_...): every conv of
# the residual stages is N:M sparse along its input channels, the stem (1 input channel) and the
# classifier stay dense, as in the official ResNet code. Combinations are removed over the first
# half of training (t_i = 0, t_f = 2 of 4 epochs, the paper's ratio), then the 2:4 model trains on.
_base_ = ['../gap/resnet8-w16_1xb128-4e_fashionmnist.py']

model = dict(
    _delete_=True,
    type='mmext.CompressedModel',
    model={{_base_.model}},
    replace=[
        dict(pattern=r'backbone\.layer\d\.\d+\.(conv[12]|downsample\.0)',
             layer=dict(type='mmext.LBCConv2d', N=2, M=4)),
    ])

custom_hooks = [dict(type='mmext.LBCHook', start=0, end=2, by_epoch=True)]
