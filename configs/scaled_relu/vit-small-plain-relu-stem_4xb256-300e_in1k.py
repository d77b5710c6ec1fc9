# Ablation of the paper: the same conv stem without BatchNorm (plain ReLU, no scaling).
_base_ = ['./scaled-relu-vit-small_4xb256-300e_in1k.py']

model = dict(backbone=dict(stem_cfg=dict(scaled=False)))
