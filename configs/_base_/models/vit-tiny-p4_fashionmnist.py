# A 4-layer ViT (width 64, 4 heads) with 4x4-pixel patches on the 28x28 grey Fashion-MNIST images
# (7x7 tokens), label smoothing 0.1: the small ViT baseline shared by the Fashion-MNIST configs
# of configs/scaled_relu and configs/smmix.
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='VisionTransformer',
        arch=dict(embed_dims=64, num_layers=4, num_heads=4, feedforward_channels=128),
        img_size=28,
        patch_size=4,
        in_channels=1),
    neck=None,
    head=dict(
        type='VisionTransformerClsHead',
        num_classes=10,
        in_channels=64,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original')),
    init_cfg=[
        dict(type='TruncNormal', layer='Linear', std=.02),
        dict(type='Constant', layer='LayerNorm', val=1., bias=0.),
    ])
