# PSLT-Large (stem width 48) on ImageNet-1k, same recipe as PSLT.
_base_ = ['./pslt_8xb128-300e_in1k.py']

model = dict(backbone=dict(arch='large'), head=dict(in_channels=768))
