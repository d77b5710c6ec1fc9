# Baseline for the SMMix comparison on Fashion-MNIST: a 4-layer ViT (width 64, 4 heads, 4x4-pixel
# patches on the 28x28 grey images -> 7x7 tokens) trained from scratch with DeiT's batch mixing
# (Mixup 0.8 / CutMix 1.0, one of the two per batch) and label smoothing 0.1, 1 epoch of the
# shared AdamW schedule at lr 1e-3 with a 20-iteration warm-up.
_base_ = [
    '../_base_/models/vit-tiny-p4_fashionmnist.py',
    '../_base_/datasets/fashion_mnist.py',
    '../_base_/schedules/adamw-1e_fashionmnist.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    backbone=dict(drop_path_rate=0.0),
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]))

optim_wrapper = dict(
    optimizer=dict(lr=1e-3),
    paramwise_cfg=dict(custom_keys={
        '.cls_token': dict(decay_mult=0.0),
        '.pos_embed': dict(decay_mult=0.0)
    }))
# the shared warm-up + cosine, with the warm-up shortened to 20 iterations
param_scheduler = [dict(_base_.param_scheduler[0], end=20), _base_.param_scheduler[1]]
