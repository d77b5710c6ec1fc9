# The FixMatch / Dash optimisation (official TF code, configs/dash): SGD with Nesterov momentum
# 0.9, lr 0.03, weight decay 5e-4 on conv / linear weights only (the TF code adds an L2 term on
# the kernels, not on BN or biases), lr_k = lr_0 cos(7 pi k / 16 K) over 2^20 iterations
# (1024 "epochs" of 1024; mmext.FixMatchCosineLR) and evaluation of an EMA of the weights
# (decay 0.999 = mmengine momentum 0.001) that also averages the BN statistics, as the TF
# code's EMA of all model variables. Configs that train here shorten the run and the EMA.
_base_ = ['mmpretrain::_base_/default_runtime.py']

epoch_iters = 1024
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.03, momentum=0.9, weight_decay=5e-4, nesterov=True),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.))
# no end: the decay runs to the loop's max_iters, whatever --cfg-options sets
param_scheduler = [dict(type='mmext.FixMatchCosineLR', by_epoch=False)]
train_cfg = dict(by_epoch=False, max_iters=1024 * epoch_iters, val_interval=64 * epoch_iters)
val_cfg = dict()
test_cfg = dict()

custom_hooks = [
    dict(type='EMAHook', momentum=0.001, update_buffers=True, priority='ABOVE_NORMAL')
]
log_processor = dict(by_epoch=False)
default_hooks = dict(
    # validation metrics logged at the iteration they were measured (by epoch they all get
    # step 0 in an iteration-based loop)
    logger=dict(type='LoggerHook', interval=100, log_metric_by_epoch=False),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=64 * epoch_iters, max_keep_ckpts=2))
randomness = dict(seed=0, deterministic=False)
