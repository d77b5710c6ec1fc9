# Student of the small ViT pair on Fashion-MNIST, trained alone: a 4-layer ViT (width 32,
# 2 heads, 4x4 patches -> 7x7 tokens + class token), 3 epochs on a 20k-image subset (AdamW,
# cosine). The ViTKD configs reuse this model and schedule unchanged.
_base_ = ['./resnet18-w8_1xb128-1e_fashionmnist.py']

model = dict(
    _delete_=True,
    type='ImageClassifier',
    backbone=dict(
        type='VisionTransformer', in_channels=1, img_size=28, patch_size=4,
        arch=dict(embed_dims=32, num_layers=4, num_heads=2, feedforward_channels=64),
        drop_rate=0.0),
    head=dict(type='VisionTransformerClsHead', num_classes=10, in_channels=32,
              loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, loss_weight=1.0)))
optim_wrapper = dict(
    _delete_=True, optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.05))
train_dataloader = dict(dataset=dict(indices=20000))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=3)
