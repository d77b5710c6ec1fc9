# DilateFormer-Base: the Tiny recipe with the base arch (stage-1 width 96 -> 768 features).
_base_ = ['./dilateformer-tiny_8xb128-300e_in1k.py']

model = dict(backbone=dict(arch='base'), head=dict(in_channels=768))
