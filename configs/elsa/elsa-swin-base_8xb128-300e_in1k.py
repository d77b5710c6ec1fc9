# ELSA-Swin-B on ImageNet-1k: drop path 0.5 and a weight EMA (timm --model-ema, decay 0.9998),
# evaluated with the EMA weights, as in the official recipe.
_base_ = ['./elsa-swin-tiny_8xb128-300e_in1k.py']

model = dict(backbone=dict(arch='base', drop_path_rate=0.5), head=dict(in_channels=1024))

custom_hooks = [dict(type='EMAHook', momentum=2e-4, priority='ABOVE_NORMAL')]
