# SuperViT (DeiT-S) on ImageNet-1k as in the official recipe (lmbxmu/SuperViT, DeiT training
# code): 4 GPUs x 256 images, AdamW lr 5e-4 * 1024 / 512, weight decay 0.05, 300 epochs, DeiT
# augmentation. Token grids 8/10/12/14 (image resized to grid x 16), keeping rates 0.5/0.7/1
# after blocks 4, 7 and 10. Each step trains 4 sampled sub-networks (see SuperViTClassifier).
# Official top-1 at (14x14, keep 1 / 0.7 / 0.5): 80.62 / 80.50 / 79.95.
_base_ = ['mmpretrain::deit/deit-small_4xb256_in1k.py']
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    type='mmext.SuperViTClassifier',
    backbone=dict(
        _delete_=True,
        type='mmext.SuperViT',
        arch='deit-small',
        patch_size=16,
        token_grids=(8, 10, 12, 14),
        keep_rates=(0.5, 0.7, 1.0),
        prune_layers=(3, 6, 9),
        drop_path_rate=0.1),
    # inference setting: pick any (grid, keep_rate) of the backbone
    test_setting=(14, 0.7),
)
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={
        '.cls_token': dict(decay_mult=0.0),
        '.pos_embeds': dict(decay_mult=0.0)
    }))
