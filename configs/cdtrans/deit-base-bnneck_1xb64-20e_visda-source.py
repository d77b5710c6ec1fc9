# Stage 1 of CDTrans (arXiv 2109.06165) on VisDA-2017 (synthetic train -> real validation, 12
# classes): as the Office-Home stage 1 (deit-base-bnneck_1xb64-10e_office-home-source.py) with the
# official VisDA values: 20 epochs, lr 0.0005 (scripts/pretrain/visda/run_visda.sh), 10-epoch
# warm-up then cosine to 0.002x. Metric: mean per-class accuracy (= macro recall), the VisDA
# protocol, and overall top-1.
_base_ = ['./deit-base-bnneck_1xb64-10e_office-home-source.py']

num_classes = 12
data_root = 'data/visda'
source_set = dict(type='CustomDataset', data_root=data_root,
                  ann_file='train/train_image_list.txt', data_prefix='train')
target_set = dict(type='CustomDataset', data_root=data_root,
                  ann_file='validation/valid_image_list.txt', data_prefix='validation')

model = dict(head=dict(num_classes=num_classes))
data_preprocessor = dict(num_classes=num_classes)
train_dataloader = dict(dataset=dict(source_set, _delete_=True, pipeline=_base_.train_pipeline))
val_dataloader = dict(dataset=dict(target_set, _delete_=True, pipeline=_base_.test_pipeline))
test_dataloader = val_dataloader
val_evaluator = [
    dict(type='Accuracy', topk=(1, )),
    dict(type='SingleLabelMetric', items=('recall', ), average='macro'),
]
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
