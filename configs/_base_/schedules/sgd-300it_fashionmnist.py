# 300 iterations (0.64 epoch at batch 128) of SGD (lr 0.1, Nesterov momentum 0.9, weight decay
# 5e-4, as the ResNet-18 baseline of configs/baselines) with a 30-iteration linear warm-up then
# cosine decay: the short CPU schedule shared by the narrow ResNet-18 runs on Fashion-MNIST
# (configs/hyp2, configs/label_noise). It includes the mmpretrain runtime because its checkpoint /
# logging settings follow the iteration-based loop.
_base_ = ['mmpretrain::_base_/default_runtime.py']

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=30),
    # no end / T_max: the decay runs to the loop's max_iters, whatever --cfg-options sets
    dict(type='CosineAnnealingLR', by_epoch=False, begin=30),
]
train_cfg = dict(by_epoch=False, max_iters=300, val_interval=300)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=128)

log_processor = dict(by_epoch=False)
default_hooks = dict(
    # validation metrics logged at their iteration (mmengine's default logs them at step 0 of
    # an iteration-based loop, so curves could not show them)
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=300, max_keep_ckpts=1))
randomness = dict(seed=0, deterministic=False)
