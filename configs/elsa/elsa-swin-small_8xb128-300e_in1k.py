# ELSA-Swin-S on ImageNet-1k: as ELSA-Swin-T with drop path 0.3 (official recipe).
_base_ = ['./elsa-swin-tiny_8xb128-300e_in1k.py']

model = dict(backbone=dict(arch='small', drop_path_rate=0.3))
