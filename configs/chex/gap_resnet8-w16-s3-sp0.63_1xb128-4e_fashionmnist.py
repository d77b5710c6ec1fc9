# The S-GaP arm of the CHEX comparison: configs/gap's S-GaP at 63% sparsity, so that the
# non-zero-weight FLOPs of the pruned stages plus the dense stem / BNs / classifier (9.48 M -
# 0.63 x 9.23 M = 3.66 M) match the exported CHEX network of seed 0 (3.63 M, get_flops.py).
_base_ = ['../gap/gap_resnet8-w16-s3-sp0.8_1xb128-4e_fashionmnist.py']

custom_hooks = [
    dict(
        type='mmext.GaPHook',
        partitions=[
            r'backbone\.layer1\..*(conv\d|downsample\.0)',
            r'backbone\.layer2\..*(conv\d|downsample\.0)',
            r'backbone\.layer3\..*(conv\d|downsample\.0)',
        ],
        sparsity=0.63,
        interval=1,
        end=3),
]
