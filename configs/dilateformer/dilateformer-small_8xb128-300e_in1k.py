# DilateFormer-Small: the Tiny recipe with the small arch (same official training script).
_base_ = ['./dilateformer-tiny_8xb128-300e_in1k.py']

model = dict(backbone=dict(arch='small'))
