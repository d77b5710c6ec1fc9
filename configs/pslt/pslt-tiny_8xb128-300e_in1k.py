# PSLT-Tiny (stem width 24) on ImageNet-1k, same recipe as PSLT.
_base_ = ['./pslt_8xb128-300e_in1k.py']

model = dict(backbone=dict(arch='tiny'), head=dict(in_channels=384))
