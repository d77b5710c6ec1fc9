# The best backbone of the first MAE-DET search stage on the nuclei tiles (600 candidates from
# retinanet_maedet-start_fpn_40e_nuclei.py under the R-18-w32 backbone's FLOPs and 37 conv
# layers; README.md): 377.6M FLOPs, 0.85M parameters, the budget's depth but 60% of its FLOPs.
# The start of the second stage, whose best is retinanet_maedet-searched_fpn_40e_nuclei.py.
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
