# Stage 2, source-only arm of the CDTrans demo: the stage-1 model (load_from) trained on the
# source images only, with the schedule and loss of the CDTrans arm
# (cdtrans_vit-tiny-p4_1xb64-2e_fashionmnist-shift.py): plain cross-entropy (the official
# adaptation stage turns label smoothing off), SGD lr 0.008, momentum 0.9, weight decay 1e-4,
# biases at twice the lr, gradient clipping at 1.0 (official values), linear warm-up for the
# first epoch then cosine decay to 0.002x. 2 epochs of 10k source images (157 iterations each).
_base_ = ['./vit-tiny-p4-bnneck_1xb64-3e_fashionmnist-source.py']

model = dict(head=dict(loss=dict(_delete_=True, type='CrossEntropyLoss', loss_weight=1.0)))

load_from = 'work_dirs/cdtrans_fm/source_seed0/epoch_3.pth'

max_epochs = 2
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
base_lr = 0.008
optim_wrapper = dict(
    _delete_=True,
    optimizer=dict(type='SGD', lr=base_lr, momentum=0.9, weight_decay=1e-4),
    # the official optimizer gives every parameter named *bias* twice the learning rate
    paramwise_cfg=dict(custom_keys={'bias': dict(lr_mult=2.0)}),
    clip_grad=dict(max_norm=1.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=1, eta_min=0.002 * base_lr,
         convert_to_iter_based=True),
]
default_hooks = dict(checkpoint=dict(interval=max_epochs))
