# The Fashion-MNIST ViT baseline trained with SMMix (arXiv 2212.12977): per batch, SMMix with
# probability 0.5 (square regions of 1-5 tokens on the 7x7 grid) and Mixup 0.8 otherwise, as in
# the official code; same schedule and data.
_base_ = ['./vit-tiny-p4_1xb128-1e_fashionmnist.py']

model = dict(
    type='mmext.SMMixClassifier',
    backbone=dict(out_type='raw'),
    smmix_prob=0.5,
    min_side_ratio=0.25,
    max_side_ratio=0.75,
    label_smoothing=0.1,
    mix_augments=dict(type='Mixup', alpha=0.8),
    train_cfg=None)
