# LBC 1:4 (75% sparse) variant of ./lbc_resnet8-w16-2to4_1xb128-4e_fashionmnist.py.
_base_ = ['./lbc_resnet8-w16-2to4_1xb128-4e_fashionmnist.py']

model = dict(replace=[
    dict(pattern=r'backbone\.layer\d\.\d+\.(conv[12]|downsample\.0)',
         layer=dict(type='mmext.LBCConv2d', N=1, M=4)),
])
