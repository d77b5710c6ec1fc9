# GENet-normal on ImageNet-1k at 192x192 (the input size of the released GENet-normal; structure
# from GENet_normal.txt of idstcv/GPU-Efficient-Networks). Same recipe and pipelines as
# GENet-small; only the architecture and head width differ.
_base_ = ['./genet-small_8xb64-480e_in1k-192px.py']

model = dict(backbone=dict(arch='normal'), head=dict(in_channels=2560))
