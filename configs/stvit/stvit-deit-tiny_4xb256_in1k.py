# STViT on DeiT-Tiny (ImageNet-1k): mmpretrain's DeiT-Tiny recipe (4 GPUs x 256 images, AdamW
# lr 1e-3 for batch 1024, 300 epochs, Mixup / CutMix, label smoothing) with the backbone swapped
# for mmext.STViTDeiT: 16 semantic tokens generated in blocks 4-5, blocks 6-11 on 1 + 16 tokens.
_base_ = ['mmpretrain::deit/deit-tiny_4xb256_in1k.py']
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmext.STViTDeiT',
        arch='deit-tiny',
        img_size=224,
        patch_size=16,
        num_semantic_tokens=16,
        semantic_layer=4,
        init_cfg=None))  # the classifier's init_cfg (DeiT's) initialises the whole model
# the learned global centres are tokens like cls_token / pos_embed: no weight decay
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={'.global_centers': dict(decay_mult=0.0)}))
