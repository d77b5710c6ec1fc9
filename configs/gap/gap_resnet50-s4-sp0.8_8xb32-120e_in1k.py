# Mirror of the paper's ImageNet setting (arXiv:2106.09857, official README): ResNet-50, S-GaP
# with 4 partitions, 80% uniform sparsity (paper: 77.9% top-1). Partitions are the four stages;
# the step length (interval) and the total schedule are ours: the paper's exact ImageNet
# schedule was not checked against the official code.
_base_ = [
    'mmpretrain::_base_/models/resnet50.py',
    'mmpretrain::_base_/datasets/imagenet_bs32.py',
    'mmpretrain::_base_/schedules/imagenet_bs256_coslr.py',
    'mmpretrain::_base_/default_runtime.py',
]

max_epochs = 120
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
param_scheduler = dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True, begin=0,
                       end=max_epochs)

custom_hooks = [
    dict(
        type='mmext.GaPHook',
        partitions=[rf'backbone\.layer{i}\..*(conv\d|downsample\.0)' for i in range(1, 5)],
        sparsity=0.8,
        interval=5,
        end=100),
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
