# The FixMatch / Dash optimisation (configs/dash) on a 300-iteration CPU budget: SGD with
# Nesterov momentum 0.9, lr 0.03, weight decay 5e-4 on conv / linear weights only (the official
# TF code decays the kernels, not BN or biases), lr_k = lr_0 cos(7 pi k / 16 K) over the run
# (mmext.FixMatchCosineLR), and evaluation of an EMA of the weights. Deviation for the short
# run: EMA momentum 0.01 (decay 0.99) instead of 0.001 (decay 0.999, a ~1000-iteration
# horizon, longer than the whole run).
_base_ = ['mmpretrain::_base_/default_runtime.py']

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.03, momentum=0.9, weight_decay=5e-4, nesterov=True),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.))
# no end: the decay runs to the loop's max_iters, whatever --cfg-options sets
param_scheduler = [dict(type='mmext.FixMatchCosineLR', by_epoch=False)]
train_cfg = dict(by_epoch=False, max_iters=300, val_interval=300)
val_cfg = dict()
test_cfg = dict()

custom_hooks = [dict(type='EMAHook', momentum=0.01, priority='ABOVE_NORMAL')]
log_processor = dict(by_epoch=False)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=25),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=300, max_keep_ckpts=1))
randomness = dict(seed=0, deterministic=False)
