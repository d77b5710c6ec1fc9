# A tiny TransReID-SSL ViT (4 layers of width 64, ICS stem of width 16) trained from scratch on
# Fashion-MNIST for 300 iterations (0.64 epoch, batch 128) on a shared CPU. 28x28 grey inputs:
# patch size 4 (stem stride 2, 2x2 projection) gives 7x7 tokens; the class token is the feature.
_base_ = ['../_base_/nano_1xb128-300it_fashionmnist.py']

model = dict(
    backbone=dict(
        type='mmext.TransReIDSSLViT',
        arch=dict(embed_dims=64, num_layers=4, num_heads=4, feedforward_channels=128),
        img_size=28,
        patch_size=4,
        in_channels=1,
        stem_channels=16,
        drop_path_rate=0.05),
    neck=None,
    head=dict(in_channels=64))

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
