# CDTrans (arXiv 2109.06165), DeiT-B, Office-Home Art -> Clipart, the official adaptation stage
# (CDTrans/CDTrans configs/uda.yml, scripts/uda/officehome): starts from the stage-1 source model
# (load_from), 40 epochs of 64 source-target pairs per iteration (2 GPUs x 32), SGD lr 0.008
# momentum 0.9, weight decay 1e-4, biases at 2x lr, gradient clipping at 1.0, mixed precision,
# 10-epoch linear warm-up from 0.01x then cosine to 0.002x; plain cross-entropy; loss weights
# 1 / 1 / 1; pseudo-labels and pairs refreshed every 10 epochs by mmext.CDTransPairHook with the
# label-consistency filter. The target images are both the (unlabelled) adaptation set and the
# evaluation set, as in the official protocol. Paper (Table 2): 68.8 on Ar -> Cl, 80.5 average.
_base_ = ['./deit-base-bnneck_1xb64-10e_office-home-source.py']

model = dict(
    type='mmext.CDTrans',
    backbone=dict(init_cfg=None),
    head=dict(loss=dict(_delete_=True, type='CrossEntropyLoss', loss_weight=1.0)),
    source_weight=1.0,
    target_weight=1.0,
    distill_weight=1.0,
    detach_teacher=False)
load_from = ('work_dirs/deit-base-bnneck_1xb64-10e_office-home-source/epoch_10.pth')

source_set = dict(type=_base_.dataset_type, data_root=_base_.data_root,
                  ann_file=f'{_base_.source_domain}.txt')
target_set = dict(source_set, ann_file=f'{_base_.target_domain}.txt')
train_dataloader = dict(
    _delete_=True,
    batch_size=32,
    num_workers=8,
    persistent_workers=False,  # the pairs change between epochs
    dataset=dict(
        type='mmext.SourceTargetPairDataset',
        source=dict(source_set, pipeline=_base_.train_pipeline),
        target=dict(target_set, pipeline=_base_.train_pipeline)),
    sampler=dict(type='DefaultSampler', shuffle=True))
custom_hooks = [
    dict(
        type='mmext.CDTransPairHook',
        source=dict(source_set, pipeline=_base_.test_pipeline),
        target=dict(target_set, pipeline=_base_.test_pipeline),
        interval=10,
        pseudo_label_filter=True,
        batch_size=256,
        num_workers=8)
]

max_epochs = 40
base_lr = 0.008
optim_wrapper = dict(optimizer=dict(lr=base_lr), clip_grad=dict(max_norm=1.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=10),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=10, end=max_epochs,
         eta_min=0.002 * base_lr),
]
train_cfg = dict(max_epochs=max_epochs)
default_hooks = dict(checkpoint=dict(interval=max_epochs))
auto_scale_lr = dict(base_batch_size=64)
