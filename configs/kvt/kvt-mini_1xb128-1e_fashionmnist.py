# A small KVT that trains on this shared 2-core CPU: Fashion-MNIST (28x28 grey, in_channels=1),
# 4x4 patches -> 49 tokens + cls, width 48, 4 layers, 3 heads, k-NN attention keeping 25 keys per
# query (about half, like 100 of 197 for DeiT), one pass over the first 30k training images
# (235 iterations), AdamW + cosine.
_base_ = [
    '../_base_/datasets/fashion_mnist.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmext.KVT',
        arch=dict(embed_dims=48, num_layers=4, num_heads=3, feedforward_channels=192),
        img_size=28,
        patch_size=4,
        in_channels=1,
        drop_path_rate=0.0,
        attn_cfg=dict(type='mmext.KNNAttention', topk=25)),
    neck=None,
    head=dict(
        type='VisionTransformerClsHead',
        num_classes=10,
        in_channels=48,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)),
)

# Half of the training set keeps the run under ~8 minutes on the shared machine.
train_dataloader = dict(dataset=dict(indices=30000))

optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.05),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            '.cls_token': dict(decay_mult=0.0),
            '.pos_embed': dict(decay_mult=0.0)
        }))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    # from iteration 100 of the 235 of the 30k-image epoch (0.4256 x 235 = 100.02) to the end;
    # in epochs so that a shorter epoch (fewer samples) shrinks it
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=0.4256,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=1, val_interval=1)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(logger=dict(interval=50), checkpoint=dict(interval=1, max_keep_ckpts=1))
