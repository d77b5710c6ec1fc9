# RetinaNet with the backbone that the MAE-DET search found on the nuclei tiles, under the FLOPs
# (634.0M at 256x256) and parameters (2.80M) of the R-18-w32 baseline's backbone and 37 conv
# layers; the entropy score at 256x256, seed 0, in two stages: 600 candidates from
# retinanet_maedet-start_fpn_40e_nuclei.py, then 1200 from that stage's best (commands in
# README.md). 585.5M FLOPs, 2.48M parameters.
# Same RetinaNet head, FPN width, data and schedule as the baseline.
_base_ = ['./retinanet_maedet-start_fpn_40e_nuclei.py']

model = dict(
    backbone=dict(arch='''[
            {'class': 'ConvKXBNRELU', 'in': 3, 'out': 16, 's': 2, 'k': 3},
            {'class': 'SuperResK1KXK1', 'in': 16, 'out': 32, 's': 2, 'k': 5, 'L': 1, 'btn': 16},
            {'class': 'SuperResK1KXK1', 'in': 32, 'out': 96, 's': 2, 'k': 5, 'L': 4, 'btn': 48},
            {'class': 'SuperResK1KXK1', 'in': 96, 'out': 176, 's': 2, 'k': 5, 'L': 3, 'btn': 80},
            {'class': 'SuperResK1KXK1', 'in': 176, 'out': 360, 's': 2, 'k': 5, 'L': 4, 'btn': 112},
        ]'''),
    neck=dict(in_channels=[32, 96, 176, 360]))
