# Baseline for SuperViT: the same backbone trained only in its full setting (grid 7, keep 1)
# with plain cross-entropy; same data, schedule and optimizer.
_base_ = ['./supervit-tiny-p4_1xb128-1e_fashionmnist.py']

# a plain ImageClassifier (no sub-network sampling, no test_setting) around the SuperViT
# backbone and head of the base, reduced to its full setting
model = dict(
    _delete_=True,
    type='ImageClassifier',
    backbone=dict(_base_.model.backbone, token_grids=(7, ), keep_rates=(1.0, ), prune_layers=()),
    neck=None,
    head=_base_.model.head)
