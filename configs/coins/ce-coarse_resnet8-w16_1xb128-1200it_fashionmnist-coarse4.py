# Baseline of the CoIns demo: plain cross-entropy on the 4 coarse Fashion-MNIST labels (a 4-way
# linear head on the ResNet-8 w16 features), evaluated like CoIns by a k-NN probe of the frozen
# backbone features on the 10 fine classes. Same data, schedule (1200 SGD iterations of batch 128)
# and evaluation as coins_resnet8-w16_1xb128-1200it_fashionmnist-coarse4.py.
_base_ = ['../_base_/coarse4_1xb128-1200it_fashionmnist.py']

model = dict(
    head=dict(
        type='LinearClsHead', num_classes=4, in_channels=64,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
