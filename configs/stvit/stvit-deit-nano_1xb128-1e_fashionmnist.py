# DeiT-based STViT on Fashion-MNIST: the baseline ViT of vit-nano-p2_1xb128-1e_fashionmnist.py
# (6 layers, width 64, 14x14 tokens of 2x2 pixels) with 16 semantic tokens generated in blocks 2-3
# (the same 1/3 of the depth as blocks 4-5 of 12 in the ImageNet configs); the last two blocks
# see the class token + 16 semantic tokens instead of 197 tokens. Same data and schedule.
_base_ = ['./vit-nano-p2_1xb128-1e_fashionmnist.py']

model = dict(
    backbone=dict(type='mmext.STViTDeiT', num_semantic_tokens=16, semantic_layer=2))
