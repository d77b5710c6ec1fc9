# KCD (arXiv 2207.05409) on top of NKD on Fashion-MNIST: the 4-epoch NKD pair of
# configs/nkd/nkd_resnet18-w16-w8_1xb128-4e_fashionmnist.py; after every epoch the 5% of the
# subset with the lowest mean prediction entropy is dropped, down to 70% (the paper's step and
# floor, its period of 40 epochs scaled down to 1).
_base_ = ['../nkd/nkd_resnet18-w16-w8_1xb128-4e_fashionmnist.py']

train_dataloader = dict(sampler=dict(_delete_=True, type='mmext.KCDSampler', shuffle=True))
custom_hooks = [dict(type='mmext.KCDHook', period=1, step=0.05, floor=0.7)]
