# SGD recipe shared by the ImageNet-1k / CIFAR-10 paper mirrors of the compression methods
# (configs/reste, configs/lts, configs/lbc): lr 0.1, momentum 0.9, weight decay 1e-4 (LBC sets
# its 5e-4), an epoch-based loop validated every epoch. Each config sets ``max_epochs`` (and
# ``train_cfg.max_epochs``), its ``param_scheduler`` and its batch size.
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4))
train_cfg = dict(by_epoch=True, val_interval=1)
val_cfg = dict()
test_cfg = dict()
