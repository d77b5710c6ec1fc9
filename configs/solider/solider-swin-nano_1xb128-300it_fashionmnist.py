# A tiny SOLIDER Swin (widths 24-192, 1/1/2/1 blocks) trained from scratch on Fashion-MNIST for
# 300 iterations (0.64 epoch, batch 128) on a shared CPU, at the re-ID semantic weight 0.2.
# 28x28 grey inputs: patch size 2 gives 14/7/4/2 maps, with 2x2 windows.
_base_ = ['../_base_/nano_1xb128-300it_fashionmnist.py']

model = dict(
    backbone=dict(
        type='mmext.SOLIDERSwin',
        arch=dict(embed_dims=24, depths=[1, 1, 2, 1], num_heads=[1, 2, 4, 8]),
        semantic_weight=0.2,
        img_size=28,
        patch_size=2,
        in_channels=1,
        window_size=2,
        drop_path_rate=0.05),
    head=dict(in_channels=192))

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
