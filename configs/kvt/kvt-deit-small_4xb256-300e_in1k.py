# KVT DeiT-Small: the DeiT-Tiny recipe with the small arch.
_base_ = ['./kvt-deit-tiny_4xb256-300e_in1k.py']

model = dict(backbone=dict(arch='deit-small'), head=dict(in_channels=384))
