# STViT-R-Swin-S on ImageNet-1k as in the official recipe (changsn/STViT-R, Swin training code):
# 8 GPUs x 128 images, AdamW (lr 1e-3 for batch 1024, weight decay 0.05), 300 epochs with
# 20 warm-up epochs, cosine schedule, drop path 0.3, Swin/DeiT augmentation.
# Released: 49.6M params, 5.83 GFLOPs, 82.7% top-1.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py',
    'mmpretrain::_base_/schedules/imagenet_bs1024_adamw_swin.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(type='mmext.STViT', arch='small', drop_path_rate=0.3),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=768,
        init_cfg=None,  # suppress the default init_cfg of LinearClsHead.
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        cal_acc=False),
    init_cfg=[
        dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
        dict(type='Constant', layer='LayerNorm', val=1., bias=0.)
    ],
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]),
)
train_dataloader = dict(batch_size=128)
optim_wrapper = dict(clip_grad=dict(max_norm=5.0))
