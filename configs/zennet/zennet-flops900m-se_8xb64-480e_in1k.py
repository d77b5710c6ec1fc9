# ZenNet-900M-SE on ImageNet-1k at 224 (structure zennet_imagenet1k_flops900M_res224.txt of
# idstcv/ZenNAS, with SE). Same recipe as ZenNet-400M-SE; only the architecture differs.
_base_ = ['./zennet-flops400m-se_8xb64-480e_in1k.py']

model = dict(backbone=dict(arch='flops900m-se'))
