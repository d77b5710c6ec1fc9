# Teacher of the small Fashion-MNIST distillation pairs: the project's narrow CIFAR-style
# ResNet-18 (widths 16-128, 0.7M params) trained from scratch for 2 epochs on a 20k-image subset
# (CPU budget). Train it first:
#   python tools/train.py configs/distill/teacher_resnet18-w16_1xb128-2e_fashionmnist.py \
#       --work-dir work_dirs/distill_teacher_fashionmnist
# (or teacher and student in one command: python tools/train_distill.py DISTILL_CONFIG)
_base_ = ['../baselines/resnet18-w16_1xb128-3e_fashionmnist.py']

train_dataloader = dict(dataset=dict(indices=20000))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=1, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=2)
