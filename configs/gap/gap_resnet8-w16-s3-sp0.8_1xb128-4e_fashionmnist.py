# S-GaP on the Fashion-MNIST ResNet-8: the three stages are the three partitions, 80% uniform
# sparsity; each stage is dense for one epoch in turn, then everything is pruned for the last
# epoch (fine-tuning with fixed masks).
_base_ = ['./resnet8-w16_1xb128-4e_fashionmnist.py']

custom_hooks = [
    dict(
        type='mmext.GaPHook',
        partitions=[
            r'backbone\.layer1\..*(conv\d|downsample\.0)',
            r'backbone\.layer2\..*(conv\d|downsample\.0)',
            r'backbone\.layer3\..*(conv\d|downsample\.0)',
        ],
        sparsity=0.8,
        interval=1,
        end=3),
]
