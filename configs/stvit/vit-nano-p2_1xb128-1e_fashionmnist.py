# Unsparsified baseline of the DeiT-based STViT run on Fashion-MNIST: a 6-layer ViT (width 64,
# 4 heads, MLP ratio 4) with 2x2-pixel patches on the 28x28 grey images, i.e. the 14x14 token grid
# of DeiT at 224x224; DeiT's recipe (class-token head, label smoothing 0.1, AdamW, no decay on
# norms / biases / tokens, gradient clipping), 1 epoch on the first 20k training images.
_base_ = [
    '../_base_/models/vit-tiny-p4_fashionmnist.py',
    '../_base_/datasets/fashion_mnist.py',
    '../_base_/schedules/adamw-1e_fashionmnist.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        arch=dict(embed_dims=64, num_layers=6, num_heads=4, feedforward_channels=256),
        patch_size=2,
        drop_path_rate=0.0))

train_dataloader = dict(dataset=dict(indices=20000))
optim_wrapper = dict(
    optimizer=dict(lr=1e-3),
    paramwise_cfg=dict(custom_keys={
        '.cls_token': dict(decay_mult=0.0),
        '.pos_embed': dict(decay_mult=0.0),
        '.global_centers': dict(decay_mult=0.0),
    }))
# 156 iterations: a 20-iteration warm-up instead of the shared 50
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=20),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, eta_min=1e-5,
         convert_to_iter_based=True),
]
