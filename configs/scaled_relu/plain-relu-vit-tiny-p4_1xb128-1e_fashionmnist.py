# Ablation: the conv stem without BN (plain ReLU), everything else as the scaled-ReLU run.
_base_ = ['./scaled-relu-vit-tiny-p4_1xb128-1e_fashionmnist.py']

model = dict(backbone=dict(stem_cfg=dict(scaled=False)))
