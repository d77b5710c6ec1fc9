# The OLD model of the Fashion-MNIST compatible-upgrade demo (RACT, arXiv 2201.09724): the
# CIFAR-style ResNet-8 of configs/gap (widths 16-32-64, 64-d embedding after global average
# pooling) trained on 30% of the 12,800-image training subset of the new models (first 3,840
# images, as the paper's old GLDv2 model sees 30% of the data) for 100 iterations of batch 128
# (SGD as configs/gap, iteration-based here). Train it first:
#   python tools/train.py configs/compatible/old_resnet8-w16_1xb128-100it_fashionmnist.py \
#       --work-dir work_dirs/compatible_old_fashionmnist
# (or together with a new model: python tools/train_distill.py NEW_MODEL_CONFIG)
_base_ = ['../gap/resnet8-w16_1xb128-4e_fashionmnist.py']

train_dataloader = dict(num_workers=1, dataset=dict(indices=3840))
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=10),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=10),
]
train_cfg = dict(_delete_=True, by_epoch=False, max_iters=100, val_interval=100)
log_processor = dict(by_epoch=False)
default_hooks = dict(
    logger=dict(interval=25, log_metric_by_epoch=False),  # metrics at their iteration
    checkpoint=dict(by_epoch=False, interval=100, max_keep_ckpts=1))
auto_scale_lr = dict(base_batch_size=128)
