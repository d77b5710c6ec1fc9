# NKD (arXiv 2208.10139) on Fashion-MNIST over 4 epochs: the pair of
# nkd_resnet18-w16-w8_1xb128-1e_fashionmnist.py with an epoch-based cosine schedule, the
# baseline of configs/kcd/kcd-nkd_resnet18-w16-w8_1xb128-4e_fashionmnist.py.
_base_ = ['./nkd_resnet18-w16-w8_1xb128-1e_fashionmnist.py']

param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=20),
    # by epoch: KCD shortens its epochs, an iteration-based schedule would be sized wrong there
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0),
]
train_cfg = dict(max_epochs=4)
