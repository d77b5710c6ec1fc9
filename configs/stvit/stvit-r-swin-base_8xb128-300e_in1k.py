# STViT-R-Swin-B on ImageNet-1k, same recipe as Swin-B but drop path 0.4 (the official config and
# training log; Swin-B itself uses 0.5). The official command uses
# 8 GPUs x 64 images with 2 accumulation steps, i.e. batch 1024. Released: 83.2% top-1.
_base_ = ['./stvit-r-swin-small_8xb128-300e_in1k.py']

model = dict(
    backbone=dict(arch='base', drop_path_rate=0.4),
    head=dict(in_channels=1024))
train_dataloader = dict(batch_size=64)
optim_wrapper = dict(accumulative_counts=2)
