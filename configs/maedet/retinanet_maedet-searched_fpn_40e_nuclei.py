# RetinaNet with the backbone that the MAE-DET search found on the nuclei tiles, from
# retinanet_maedet-start_fpn_40e_nuclei.py under the FLOPs of the R-18-w32 baseline's backbone
# at 256x256 (634.0M) and 37 conv layers; the entropy score at 256x256, 600 candidates, seed 0
# (commands in README.md). 377.6M FLOPs, 0.85M parameters (R-18-w32: 634.0M, 2.80M).
# Same RetinaNet head, FPN width, data and schedule as the baseline.
_base_ = ['./retinanet_maedet-start_fpn_40e_nuclei.py']

model = dict(
    backbone=dict(arch='''[
            {'class': 'ConvKXBNRELU', 'in': 3, 'out': 8, 's': 2, 'k': 3},
            {'class': 'SuperResK1KXK1', 'in': 8, 'out': 16, 's': 2, 'k': 5, 'L': 1, 'btn': 16},
            {'class': 'SuperResK1KXK1', 'in': 16, 'out': 64, 's': 2, 'k': 5, 'L': 4, 'btn': 48},
            {'class': 'SuperResK1KXK1', 'in': 64, 'out': 192, 's': 2, 'k': 3, 'L': 3, 'btn': 64},
            {'class': 'SuperResK1KXK1', 'in': 192, 'out': 288, 's': 2, 'k': 5, 'L': 4, 'btn': 48},
        ]'''),
    neck=dict(in_channels=[16, 64, 192, 288]))
