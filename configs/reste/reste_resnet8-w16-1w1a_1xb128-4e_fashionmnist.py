# ReSTE 1W/1A on the Fashion-MNIST ResNet-8 (dense reference: ../gap/resnet8-w16_...): the block
# convs are binary, the stem, the 1x1 shortcut convs and the classifier stay full precision (as in
# the paper). The exponent o goes 1 -> 3 along the quarter-cosine schedule, updated every
# iteration because this schedule is only 4 epochs long.
_base_ = ['../gap/resnet8-w16_1xb128-4e_fashionmnist.py']

model = dict(
    _delete_=True,
    type='mmext.CompressedModel',
    model={{_base_.model}},
    replace=[
        dict(pattern=r'backbone\.layer\d\.\d+\.conv[12]', layer=dict(type='mmext.ReSTEConv2d')),
    ])

# official ReSTE setting: SGD, lr 0.1, weight decay 1e-4
optim_wrapper = dict(optimizer=dict(weight_decay=1e-4, nesterov=False))
custom_hooks = [dict(type='mmext.ReSTEHook', o_start=1.0, o_end=3.0, by_epoch=False)]
