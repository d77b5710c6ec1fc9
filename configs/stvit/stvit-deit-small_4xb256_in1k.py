# STViT on DeiT-Small (ImageNet-1k): mmpretrain's DeiT-Small recipe (4 GPUs x 256 images, AdamW
# lr 1e-3 for batch 1024, 300 epochs, Mixup / CutMix, label smoothing; the DeiT-Tiny recipe with
# the small model) with the backbone swapped for mmext.STViTDeiT: 16 semantic tokens generated
# in blocks 4-5, blocks 6-11 on 1 + 16 tokens.
_base_ = ['./stvit-deit-tiny_4xb256_in1k.py']

model = dict(backbone=dict(arch='deit-small'), head=dict(in_channels=384))
