# Teacher of the small ViT pair on Fashion-MNIST: a 4-layer ViT of width 64 (4 heads), 4 epochs
# on the full training set. Train it first:
#   python tools/train.py configs/distill/teacher_vit-w64_1xb128-4e_fashionmnist.py \
#       --work-dir work_dirs/distill_vit_teacher_fashionmnist
_base_ = ['./vit-w32_1xb128-3e_fashionmnist.py']

model = dict(
    backbone=dict(arch=dict(embed_dims=64, num_layers=4, num_heads=4, feedforward_channels=128)),
    head=dict(in_channels=64))
train_dataloader = dict(dataset=dict(indices=None))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=4)
