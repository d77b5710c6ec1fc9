# The Zen-NAS ImageNet-1k training recipe (./schedules/zennas_sgd-480e_in1k.py) with mmpretrain's
# ImageNet data (8 GPUs x 64) and runtime, around a classifier with a global-average-pooled
# 1000-class linear head trained with label smoothing 0.1: the setting shared by the GENet and
# ZenNet configs (configs/genet, configs/zennet), which add the backbone and the head width.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs64.py',
    './models/linear-cls-ls.py',
    './schedules/zennas_sgd-480e_in1k.py',
    'mmpretrain::_base_/default_runtime.py',
]

model = dict(head=dict(num_classes=1000))
