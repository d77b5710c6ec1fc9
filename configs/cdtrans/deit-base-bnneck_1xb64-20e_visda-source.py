# Stage 1 of CDTrans (arXiv 2109.06165) on VisDA-2017 (synthetic train -> real validation, 12
# classes): as the Office-Home stage 1 (deit-base-bnneck_1xb64-10e_office-home-source.py) with the
# official VisDA values: 20 epochs, lr 0.0005 (scripts/pretrain/visda/run_visda.sh), 10-epoch
# warm-up then cosine to 0.002x. Metric: mean per-class accuracy (= macro recall) and top-1.
_base_ = [
    './deit-base-bnneck_1xb64-10e_office-home-source.py', '../_base_/datasets/visda2017_uda.py'
]

model = dict(head=dict(num_classes=_base_.visda_num_classes))
data_preprocessor = dict(num_classes=_base_.visda_num_classes)
train_dataloader = dict(
    dataset=dict(_base_.visda_source, _delete_=True, pipeline=_base_.train_pipeline))
val_dataloader = dict(
    dataset=dict(_base_.visda_target, _delete_=True, pipeline=_base_.test_pipeline))
test_dataloader = val_dataloader
val_evaluator = _base_.visda_evaluator
test_evaluator = val_evaluator

max_epochs = 20
base_lr = 0.0005
optim_wrapper = dict(optimizer=dict(lr=base_lr))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=10),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=10, end=max_epochs,
         eta_min=0.002 * base_lr),
]
train_cfg = dict(max_epochs=max_epochs)
default_hooks = dict(checkpoint=dict(interval=max_epochs))
