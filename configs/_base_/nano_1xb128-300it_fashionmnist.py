# The short CPU recipe of the small window-attention backbones on Fashion-MNIST (configs/pslt,
# configs/elsa): the Fashion-MNIST data (batch 128), 300 iterations of AdamW
# (./schedules/adamw-300it_fashionmnist.py) and a classifier with a global-average-pooled
# 10-class linear head trained with label smoothing 0.1. Configs add the backbone
# (in_channels=1) and the head's input width.
_base_ = [
    './datasets/fashion_mnist.py',
    './models/linear-cls-ls.py',
    './schedules/adamw-300it_fashionmnist.py',
]

model = dict(head=dict(num_classes=10))
