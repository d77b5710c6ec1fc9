# Baseline for the scaled-ReLU stem on Fashion-MNIST: a 4-layer ViT (width 64, 4 heads) with the
# usual patchify stem (4x4 patches -> 7x7 tokens), AdamW, 1 epoch from scratch on the first 20k
# training images (to fit the shared 2-core CPU), no batch mixing.
_base_ = [
    '../_base_/models/vit-tiny-p4_fashionmnist.py',
    '../_base_/datasets/fashion_mnist.py',
    '../_base_/schedules/adamw-1e_fashionmnist.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

train_dataloader = dict(dataset=dict(indices=20000))
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={
        '.cls_token': dict(decay_mult=0.0),
        '.pos_embed': dict(decay_mult=0.0)
    }))
default_hooks = dict(logger=dict(interval=100))
