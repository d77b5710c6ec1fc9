# CHEX on the Fashion-MNIST ResNet-8 of configs/gap (same data, 4 epochs x 100 iterations):
# half of the block-internal channels pruned at the end (official script's channel sparsity 0.5,
# initial regrow ratio 0.2). The official schedule (a step every 2 of 250 epochs, exploration
# until epoch 180) is scaled to the 400 iterations: a step every 4 iterations until iteration
# 288 (72 steps; 72% of training, as 180 / 250).
_base_ = ['../gap/resnet8-w16_1xb128-4e_fashionmnist.py']

custom_hooks = [
    dict(type='mmext.CHEXHook', channel_sparsity=0.5, init_channel_ratio=0.2, interval=4,
         end=288, by_epoch=False),
]
