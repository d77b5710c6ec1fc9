# KCD (arXiv 2207.05409) on top of NKD, ResNet-18 <- ResNet-34 on ImageNet-1k: every 40 epochs
# (the paper's period) the 5% of the training set with the lowest mean prediction entropy is
# dropped, down to 70% (the paper's step and floor). mmpretrain's ResNet schedule is stepped by
# epoch, so shorter condensed epochs leave it intact.
_base_ = ['../nkd/nkd_resnet34-resnet18_8xb32_in1k.py']

train_dataloader = dict(sampler=dict(_delete_=True, type='mmext.KCDSampler', shuffle=True))
custom_hooks = [dict(type='mmext.KCDHook', period=40, step=0.05, floor=0.7)]
