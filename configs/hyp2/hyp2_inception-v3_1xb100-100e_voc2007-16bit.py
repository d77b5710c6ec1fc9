# HyP^2 VOC-2007 mirror with 16-bit codes (zeta from the code table for 16 bits, 20 classes).
_base_ = ['./hyp2_inception-v3_1xb100-100e_voc2007-48bit.py']

code_length = 16
model = dict(
    backbone=dict(num_classes=code_length),
    head=dict(in_channels=code_length, code_length=code_length))
