# Starting point of the MAE-DET search on the nuclei tiles (tools/analysis/nas_search.py): a
# small network in the MAE-DET super-block space, a stride-2 stem and four stride-2 super-blocks
# of one bottleneck unit each (the official searches start from such a small structure, "less
# than 1/4 of the budget"). The same RetinaNet / FPN / schedule as the R-18-w32 baseline.
_base_ = ['../baselines/retinanet_r18-w32_fpn_40e_nuclei.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmext.MAEDet',
        # the official structure format as text: mmengine cannot print a dict with a key
        # named 'class' (a Python keyword) when it logs or saves the config
        arch='''[
            {'class': 'ConvKXBNRELU', 'in': 3, 'out': 16, 's': 2, 'k': 3},
            {'class': 'SuperResK1KXK1', 'in': 16, 'out': 32, 's': 2, 'k': 3, 'L': 1, 'btn': 16},
            {'class': 'SuperResK1KXK1', 'in': 32, 'out': 64, 's': 2, 'k': 3, 'L': 1, 'btn': 16},
            {'class': 'SuperResK1KXK1', 'in': 64, 'out': 128, 's': 2, 'k': 3, 'L': 1, 'btn': 32},
            {'class': 'SuperResK1KXK1', 'in': 128, 'out': 256, 's': 2, 'k': 3, 'L': 1, 'btn': 64},
        ]''',
        out_indices=(0, 1, 2, 3),
        norm_eval=False),
    neck=dict(in_channels=[32, 64, 128, 256]))
