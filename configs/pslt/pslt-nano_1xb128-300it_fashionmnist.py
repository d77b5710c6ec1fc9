# A tiny PSLT (stem width 12, one MV2 block per conv stage, 2 + 1 ladder blocks) trained from
# scratch on Fashion-MNIST for 300 iterations (0.64 epoch, batch 128) on a shared CPU. 28x28
# inputs: the stem keeps the resolution (stem_stride=1) so the ladder stages see 4x4 and 2x2
# maps, with 2x2 windows.
_base_ = ['../_base_/nano_1xb128-300it_fashionmnist.py']

model = dict(
    backbone=dict(
        type='mmext.PSLT',
        arch=dict(embed_dims=12, conv_depths=[1, 1], depths=[2, 1], num_heads=[2, 4]),
        in_channels=1,
        stem_stride=1,
        window_size=2,
        drop_path_rate=0.05),
    head=dict(in_channels=192))

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
