# CoIns (arXiv 2005.09681) on Fashion-MNIST with 4 coarse labels: MoCo v2 (momentum key encoder,
# queue, InfoNCE at T=0.2, MLP neck) on the ResNet-8 w16 + the coarse-proxy loss of weight 0.5
# at the same temperature, as the official code; evaluated by a k-NN probe of the frozen
# backbone features on the 10 fine classes. Scaled to the CPU: 64-d embedding (official 128),
# queue of 4,096 keys (official 65,536), key momentum 0.99 (official 0.999: a 1200-iteration run
# needs a faster key encoder), crops of 28x28 with scale (0.2, 1) and flips (no colour
# augmentation on grey images), and the schedule of the cross-entropy baseline (1200 SGD
# iterations of batch 128, lr 0.1) instead of the official 200 epochs at lr 0.03.
_base_ = ['../_base_/coarse4_1xb128-1200it_fashionmnist.py']

model = dict(
    _delete_=True,
    type='mmext.CoIns',
    num_coarse_classes=4,
    coarse_loss_weight=0.5,
    queue_len=4096,
    feat_dim=64,
    # mmengine's EMA weight of the new parameters: key momentum 1 - 0.01 = 0.99
    momentum=0.01,
    backbone={{_base_.model.backbone}},
    neck=dict(
        type='MoCoV2Neck', in_channels=64, hid_channels=64, out_channels=64,
        with_avg_pool=True),
    head=dict(type='ContrastiveHead', loss=dict(type='CrossEntropyLoss'), temperature=0.2),
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor', mean=[72.94], std=[90.02], to_rgb=False))

view_pipeline = [
    dict(type='RandomResizedCrop', scale=28, crop_ratio_range=(0.2, 1.)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
]
# SelfSupDataPreprocessor normalises each view of a default-collated batch; the queue takes
# whole batches only (4,096 keys = 32 batches), so the last, partial batch of an epoch is dropped
train_dataloader = dict(
    collate_fn=dict(type='default_collate'),
    drop_last=True,
    dataset=dict(
        dataset=dict(pipeline=[
            dict(type='MultiView', num_views=2, transforms=[view_pipeline]),
            dict(type='PackInputs'),
        ])))

# the evaluation batches too: with mmengine's default pseudo_collate SelfSupDataPreprocessor
# would get a list of single images
val_dataloader = dict(collate_fn=dict(type='default_collate'))
val_cfg = dict(bank_dataloader=dict(collate_fn=dict(type='default_collate')))
test_dataloader = val_dataloader
test_cfg = val_cfg
