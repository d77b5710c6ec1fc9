# A tiny ELSA-Swin (ELSA stages 0-2 + one Swin stage, widths 24-192) trained from scratch on
# Fashion-MNIST for 300 iterations (0.64 epoch, batch 128) on a shared CPU. 28x28 inputs:
# patch size 2 gives 14/7/4/2 maps; the ELSA kernel is 5 and the Swin window 2 (the size of the
# last map) to suit the small maps.
_base_ = ['../_base_/nano_1xb128-300it_fashionmnist.py']

model = dict(
    backbone=dict(
        type='mmext.ELSASwin',
        arch=dict(embed_dims=24, depths=[1, 1, 2, 1], num_heads=[1, 2, 4, 8], group_width=8),
        in_channels=1,
        patch_size=2,
        elsa_kernel=5,
        window_size=2,
        drop_path_rate=0.05),
    head=dict(in_channels=192))

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

# differs from the shared schedule: weight decay 0.05, gradient clipping, no decay on ghost_add
optim_wrapper = dict(
    optimizer=dict(weight_decay=0.05),
    clip_grad=dict(max_norm=5.0),
    paramwise_cfg=dict(custom_keys={'.ghost_add': dict(decay_mult=0.0)}))
