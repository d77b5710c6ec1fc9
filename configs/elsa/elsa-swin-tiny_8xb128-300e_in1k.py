# ELSA-Swin-T on ImageNet-1k: the official recipe (timm, 8 GPUs x 128 images, 300 epochs, AdamW
# lr 1e-3, wd 0.05, 20 warm-up epochs, cosine to 1e-5, drop path 0.1, RandAugment m9, mixup 0.8,
# cutmix 1.0, random erasing 0.25, grad clip 5, label smoothing 0.1), on mmpretrain's Swin bases.
_base_ = [
    'mmpretrain::_base_/models/swin_transformer/tiny_224.py',
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py',
    'mmpretrain::_base_/schedules/imagenet_bs1024_adamw_swin.py',
    'mmpretrain::_base_/default_runtime.py',
]

model = dict(
    backbone=dict(_delete_=True, type='mmext.ELSASwin', arch='tiny', drop_path_rate=0.1),
    head=dict(in_channels=768))

train_dataloader = dict(batch_size=128)
val_dataloader = dict(batch_size=128)
test_dataloader = val_dataloader

optim_wrapper = dict(
    clip_grad=dict(max_norm=5.0),
    # the ghost heads are static filters: no weight decay, like the position bias tables
    paramwise_cfg=dict(custom_keys={
        '.absolute_pos_embed': dict(decay_mult=0.0),
        '.relative_position_bias_table': dict(decay_mult=0.0),
        '.ghost_add': dict(decay_mult=0.0),
        '.ghost_mul': dict(decay_mult=0.0),
    }))

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
