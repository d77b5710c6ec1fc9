# Person re-ID fine-tuning as identity classification on Market-1501, with the data and schedule
# of the official TransReID-SSL / SOLIDER-REID recipes (both from TransReID): 64 images per
# batch, flip 0.5, 10-pixel padding + random crop, random erasing 0.5 filled with the mean,
# mean / std 0.5, SGD (momentum 0.9, weight decay 1e-4, bias lr x2) for 120 epochs with 20
# warm-up epochs then cosine decay. Configs add the training pipeline at their input size (from
# the size-free steps below), the backbone, the head width and the learning rate.
# Deviation: only the identity cross-entropy; the official triplet loss, BNNeck and P x K
# identity sampler are not part of mmpretrain, and there is no mAP / CMC evaluation here.
# Data: data/market1501 with meta/train.txt holding "<image under bounding_box_train> <id>"
# lines, ids renumbered 0..750 (mmpretrain CustomDataset).
_base_ = ['mmpretrain::_base_/default_runtime.py']

num_ids = 751
data_root = 'data/market1501'

data_preprocessor = dict(
    num_classes=num_ids, mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5], to_rgb=True)

model = dict(
    type='ImageClassifier',
    head=dict(
        type='LinearClsHead',
        num_classes=num_ids,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))

# size-free steps of the training pipeline, used by the configs as _base_.reid_flip etc.
reid_flip = dict(type='RandomFlip', prob=0.5, direction='horizontal')
reid_erase = dict(type='RandomErasing', erase_prob=0.5, min_area_ratio=0.02, max_area_ratio=0.4,
                  aspect_range=(0.3, 1 / 0.3), mode='const', fill_color=(127.5, 127.5, 127.5))

train_dataloader = dict(
    batch_size=64,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='CustomDataset', data_root=data_root, ann_file='meta/train.txt',
        data_prefix='bounding_box_train'))

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=4e-4, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(bias_lr_mult=2.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=20,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min_ratio=0.002, by_epoch=True, begin=20, end=120,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=120)
val_cfg = None
test_cfg = None
auto_scale_lr = dict(base_batch_size=64)
