# Ablation baseline of SMMix: the DeiT Mixup/CutMix recipe with CutMix replaced by token-aligned
# square regions at random positions (mmext.PatchCutMix, same region sizes as SMMix), i.e. SMMix
# without its attention-guided positions and self-motivated losses.
_base_ = ['./vit-tiny-p4_1xb128-1e_fashionmnist.py']

model = dict(
    train_cfg=dict(augments=[
        dict(type='Mixup', alpha=0.8),
        dict(type='mmext.PatchCutMix', patch_size=4, min_side_ratio=0.25, max_side_ratio=0.75),
    ]))
