# One epoch of AdamW (lr 2e-3, weight decay 0.05 but none on norms and biases, gradient clipping
# at 5) with a 50-iteration linear warm-up then cosine decay per iteration: the short CPU schedule
# shared by the small ViT runs on Fashion-MNIST (configs/scaled_relu, supervit, stvit). ViTs add
# their token / position-embedding names to `paramwise_cfg.custom_keys`. It includes the
# mmpretrain runtime because its logger / checkpoint hooks follow `max_epochs`.
_base_ = ['mmpretrain::_base_/default_runtime.py']

max_epochs = 1
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0),
    clip_grad=dict(max_norm=5.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    # no end: mmengine takes the loop's max_epochs, so a shortened run decays fully
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, eta_min=1e-5,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', interval=max_epochs))
randomness = dict(seed=0)
