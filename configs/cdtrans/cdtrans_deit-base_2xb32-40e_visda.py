# CDTrans (arXiv 2109.06165), DeiT-B, VisDA-2017: the Office-Home adaptation recipe
# (cdtrans_deit-base_2xb32-40e_office-home.py) with the official VisDA learning rate 5e-5
# (scripts/uda/visda/run_visda.sh), starting from the VisDA stage-1 model. Paper: 88.4 mean
# per-class accuracy (README of CDTrans/CDTrans, Table 3).
_base_ = ['./cdtrans_deit-base_2xb32-40e_office-home.py', '../_base_/datasets/visda2017_uda.py']

model = dict(head=dict(num_classes=_base_.visda_num_classes))
data_preprocessor = dict(num_classes=_base_.visda_num_classes)
load_from = 'work_dirs/deit-base-bnneck_1xb64-20e_visda-source/epoch_20.pth'
train_dataloader = dict(
    dataset=dict(
        source=dict(_base_.visda_source, _delete_=True, pipeline=_base_.train_pipeline),
        target=dict(_base_.visda_target, _delete_=True, pipeline=_base_.train_pipeline)))
custom_hooks = [
    dict(_base_.custom_hooks[0],
         source=dict(_base_.visda_source, pipeline=_base_.test_pipeline),
         target=dict(_base_.visda_target, pipeline=_base_.test_pipeline))
]
val_dataloader = dict(
    dataset=dict(_base_.visda_target, _delete_=True, pipeline=_base_.test_pipeline))
test_dataloader = val_dataloader
val_evaluator = _base_.visda_evaluator
test_evaluator = val_evaluator

base_lr = 5e-5
optim_wrapper = dict(optimizer=dict(lr=base_lr))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=10),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=10, end=40, eta_min=0.002 * base_lr),
]
