# Baseline of the CoIns demo: plain cross-entropy on the 4 coarse Fashion-MNIST labels (a 4-way
# linear head on the ResNet-8 w16 features), evaluated like CoIns by a k-NN probe of the frozen
# backbone features on the 10 fine classes. Same data, schedule (150 SGD iterations of batch 128)
# and evaluation as coins_resnet8-w16_1xb128-150it_fashionmnist-coarse4.py.
_base_ = [
    '../_base_/datasets/fashion_mnist_coarse4.py',
    '../_base_/models/resnet8-w16_fashionmnist.py',
    '../_base_/schedules/sgd-300it_fashionmnist.py',
]

model = dict(
    head=dict(
        type='LinearClsHead', num_classes=4, in_channels=64,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))

max_iters = 150
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters))
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
