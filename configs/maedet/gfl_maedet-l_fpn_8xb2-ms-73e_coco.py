# MAE-DET-L in GFL on COCO: the MAE-DET-S recipe with the L backbone and a 256-wide FPN / head
# (official configs/detection/models/gfocal_maedet/maedet_l_6x_lr0.02.py).
_base_ = ['./gfl_maedet-s_fpn_8xb2-ms-73e_coco.py']

model = dict(
    backbone=dict(arch='l'),
    neck=dict(in_channels=[144, 608, 1912, 2400], out_channels=256),
    bbox_head=dict(in_channels=256, feat_channels=256))
