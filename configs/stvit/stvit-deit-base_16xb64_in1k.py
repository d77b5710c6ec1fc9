# STViT on DeiT-Base (ImageNet-1k): mmpretrain's DeiT-Base recipe (16 GPUs x 64 images, AdamW
# lr 1e-3 for batch 1024, 300 epochs, drop path 0.1, EMA) with the backbone swapped for
# mmext.STViTDeiT: 16 semantic tokens generated in blocks 4-5, blocks 6-11 on 1 + 16 tokens.
_base_ = ['mmpretrain::deit/deit-base_16xb64_in1k.py']
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmext.STViTDeiT',
        arch='deit-base',
        img_size=224,
        patch_size=16,
        drop_path_rate=0.1,
        num_semantic_tokens=16,
        semantic_layer=4,
        init_cfg=None))  # the classifier's init_cfg (DeiT's) initialises the whole model
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={'.global_centers': dict(decay_mult=0.0)}))
