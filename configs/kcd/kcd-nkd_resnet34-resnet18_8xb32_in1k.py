# KCD (arXiv 2207.05409) on top of NKD, ResNet-18 <- ResNet-34 on ImageNet-1k, on the 100-epoch
# NKD schedule: 5% of the training set (the paper's step) is dropped at each condensation, down
# to 70% (the paper's floor). The published run condenses every 40 of 240 epochs, i.e. after
# 1/6, 2/6, ... 5/6 of training (the sixth falls on the last epoch), ending at 75% of the set;
# period 17 condenses at the same fractions of these 100 epochs (17, 34, 51, 68, 85), also ending
# at 75%. (With the paper's period of 40 here, it would condense only at 40 and 80 and end at
# 90%.) mmpretrain's ResNet schedule is stepped by epoch, so shorter condensed epochs leave it
# intact.
_base_ = ['../nkd/nkd_resnet34-resnet18_8xb32_in1k.py']

train_dataloader = dict(sampler=dict(_delete_=True, type='mmext.KCDSampler', shuffle=True))
custom_hooks = [dict(type='mmext.KCDHook', period=17, step=0.05, floor=0.7)]
