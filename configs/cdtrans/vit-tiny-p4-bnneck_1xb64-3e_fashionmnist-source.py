# Stage 1 of the CDTrans demo (arXiv 2109.06165): source-only training of the tiny ViT (4 layers,
# width 64, 4x4-pixel patches) with the official CDTrans neck (mmext.BNNeck: BatchNorm1d, bias
# frozen) and a linear classifier, label smoothing 0.1 as the official pre-training stage.
# Source domain: the first 10k clean Fashion-MNIST training images. Validation: the target
# domain, i.e. the 10k test images rotated by 30 degrees (mmext.DomainShift; the source-only
# model keeps about 47% of its 74% clean accuracy there).
_base_ = [
    '../_base_/models/vit-tiny-p4_fashionmnist.py',
    '../_base_/datasets/fashion_mnist.py',
    '../_base_/schedules/adamw-1e_fashionmnist.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    backbone=dict(drop_path_rate=0.1),
    neck=dict(_delete_=True, type='mmext.BNNeck', in_channels=64),
    head=dict(
        _delete_=True,
        type='LinearClsHead',
        num_classes=10,
        in_channels=64,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original')))

num_source = 10000
domain_shift = dict(type='mmext.DomainShift', rotate=30.)
target_test_pipeline = [domain_shift, dict(type='PackInputs')]

train_dataloader = dict(
    batch_size=64, num_workers=0, persistent_workers=False, dataset=dict(indices=num_source))
val_dataloader = dict(
    num_workers=0, persistent_workers=False, dataset=dict(pipeline=target_test_pipeline))
test_dataloader = val_dataloader

max_epochs = 3
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    '.cls_token': dict(decay_mult=0.0),
    '.pos_embed': dict(decay_mult=0.0)
}))
default_hooks = dict(checkpoint=dict(interval=max_epochs))
