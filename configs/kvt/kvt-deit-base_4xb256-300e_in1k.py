# KVT DeiT-Base: the DeiT-Tiny recipe with the base arch.
_base_ = ['./kvt-deit-tiny_4xb256-300e_in1k.py']

model = dict(backbone=dict(arch='deit-base'), head=dict(in_channels=768))
