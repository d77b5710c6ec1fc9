# STViT-R-Swin-S on ImageNet-1k as in the official recipe (changsn/STViT-R, Swin training code):
# 8 GPUs x 128 images, AdamW (lr 1e-3 for batch 1024, weight decay 0.05), 300 epochs with
# 20 warm-up epochs, cosine schedule, drop path 0.3, Swin/DeiT augmentation.
# Released: 49.6M params, 5.83 GFLOPs, 82.7% top-1.
_base_ = [
    'mmpretrain::_base_/models/swin_transformer/small_224.py',
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py',
    'mmpretrain::_base_/schedules/imagenet_bs1024_adamw_swin.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

# mmpretrain's Swin-S classifier (head, init, Mixup / CutMix) with our backbone
model = dict(backbone=dict(_delete_=True, type='mmext.STViT', arch='small', drop_path_rate=0.3))
train_dataloader = dict(batch_size=128)
optim_wrapper = dict(clip_grad=dict(max_norm=5.0))
