# Baseline for SuperViT: the same backbone trained only in its full setting (grid 7, keep 1)
# with plain cross-entropy; same data, schedule and optimizer.
_base_ = ['./supervit-tiny-p4_1xb128-1e_fashionmnist.py']

model = dict(
    _delete_=True,
    type='ImageClassifier',
    backbone=dict(
        type='mmext.SuperViT',
        arch=dict(embed_dims=64, num_layers=6, num_heads=4, feedforward_channels=128),
        patch_size=4,
        token_grids=(7, ),
        keep_rates=(1.0, ),
        prune_layers=(),
        in_channels=1),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=64,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original')))
