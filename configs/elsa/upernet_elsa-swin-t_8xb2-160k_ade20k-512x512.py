# UperNet with an ELSA-Swin-T backbone on ADE20K: the official recipe (512x512 crops, AdamW
# lr 6e-5 / wd 0.01, 1500 warm-up iterations then poly decay, 160k iterations, drop path 0.3,
# 8 GPUs x 2 images), on mmseg's Swin-T UperNet config.
_base_ = ['mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py']

# ImageNet-1k ELSA-Swin-T: the official weights converted by
# tools/model_converters/elsa_to_mmext.py (configs/elsa/README.md, Pretrained weights)
pretrained = 'checkpoints/elsa-swin-tiny_in1k_mmext.pth'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmext.ELSASwin',
        arch='tiny',
        drop_path_rate=0.3,
        out_indices=(0, 1, 2, 3),
        pad_small_map=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    decode_head=dict(in_channels=[96, 192, 384, 768], num_classes=150),
    auxiliary_head=dict(in_channels=384, num_classes=150))

optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={
        'absolute_pos_embed': dict(decay_mult=0.),
        'relative_position_bias_table': dict(decay_mult=0.),
        'norm': dict(decay_mult=0.),
        'ghost_add': dict(decay_mult=0.),
    }))

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
