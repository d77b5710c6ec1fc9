# The flags of the official CLS/script.sh: channel sparsity 0.5, initial regrow ratio 0.2, no
# mixup; everything else as the README recipe.
_base_ = ['./chex_resnet50-cs0.7_8xb128-250e_in1k.py']

model = dict(train_cfg=dict(_delete_=True))
custom_hooks = [
    dict(type='mmext.CHEXHook', channel_sparsity=0.5, init_channel_ratio=0.2, interval=2,
         end=180),
]
