# MAE-DET-M in GFL on COCO: the MAE-DET-S recipe with the M backbone and a 256-wide FPN / head
# (official configs/detection/models/gfocal_maedet/maedet_m_6x_lr0.02.py).
_base_ = ['./gfl_maedet-s_fpn_8xb2-ms-73e_coco.py']

model = dict(
    backbone=dict(arch='m'),
    neck=dict(in_channels=[120, 512, 1632, 2048], out_channels=256),
    bbox_head=dict(in_channels=256, feat_channels=256))
