# SuperViT on Fashion-MNIST: a 6-layer ViT (width 64, 4 heads) with 4x4-pixel patches on images
# resized to grid x 4 for token grids 4/5/6/7 (the 28x28 image seen as 4x4 ... 7x7 patches of
# 7 ... 4 pixels), keeping rates 0.5/0.7/1 after blocks 2, 3 and 4 (the paper prunes after
# blocks 4, 7 and 10 of 12). Each step trains the 4 sampled sub-networks (2 with labels, 2 by
# distillation). 1 epoch on the first 20k training images, AdamW.
_base_ = [
    '../_base_/datasets/fashion_mnist.py',
    '../_base_/schedules/adamw-1e_fashionmnist.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    type='mmext.SuperViTClassifier',
    backbone=dict(
        type='mmext.SuperViT',
        arch=dict(embed_dims=64, num_layers=6, num_heads=4, feedforward_channels=128),
        patch_size=4,
        token_grids=(4, 5, 6, 7),
        keep_rates=(0.5, 0.7, 1.0),
        prune_layers=(1, 2, 3),
        in_channels=1),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=64,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original')),
    # evaluate the full setting by default; any (grid, keep rate) can be chosen with
    # --cfg-options model.test_setting="(5,0.5)"
    test_setting=(7, 1.0))

train_dataloader = dict(dataset=dict(indices=20000))
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={
        '.cls_token': dict(decay_mult=0.0),
        '.pos_embeds': dict(decay_mult=0.0)
    }))
