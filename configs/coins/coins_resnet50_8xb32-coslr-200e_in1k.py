# CoIns (arXiv 2005.09681) on ImageNet with the official recipe (idstcv/CoIns README and
# coins_train.py): MoCo v2 with ResNet-50, 2048-2048-128 MLP neck, queue 65,536, key momentum
# 0.999, InfoNCE temperature 0.2, MoCo v2 augmentation, SGD lr 0.03 (momentum 0.9, weight decay
# 1e-4), batch 256 (8 x 32), cosine decay over 200 epochs - all from mmpretrain's MoCo v2 config -
# plus the coarse-proxy loss of weight 0.5 at temperature 0.2 on the 11 coarse classes of the
# official mapping. The mapping is the official data/class_mapping.txt of idstcv/CoIns (one
# line per ImageNet class in wnid order, coarse index last): put it at
# data/imagenet/meta/coins_class_mapping.txt. Evaluation here is a k-NN probe of the frozen
# backbone on the 1000 fine classes (the paper reports fine-class retrieval and linear probing).
_base_ = ['mmpretrain::mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.py']

model = dict(type='mmext.CoIns', num_coarse_classes=11, coarse_loss_weight=0.5)

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='mmext.RelabeledDataset',
        dataset=dict(
            type='ImageNet',
            data_root='data/imagenet',
            split='train',
            pipeline={{_base_.train_pipeline}}),
        label_map_file='data/imagenet/meta/coins_class_mapping.txt'))

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
# default_collate: SelfSupDataPreprocessor expects stacked batches (with to_rgb, a list of
# single images would have rows swapped instead of channels)
val_dataloader = dict(
    batch_size=64,
    num_workers=8,
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='ImageNet', data_root='data/imagenet', split='val', pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
val_cfg = dict(
    type='mmext.FeatureProbeValLoop',
    bank_dataloader=dict(
        batch_size=64,
        num_workers=8,
        collate_fn=dict(type='default_collate'),
        dataset=dict(
            type='ImageNet', data_root='data/imagenet', split='train', pipeline=test_pipeline),
        sampler=dict(type='DefaultSampler', shuffle=False)))
val_evaluator = dict(type='mmext.FeatureProbeMetric', knn_k=200, temperature=0.07)
train_cfg = dict(val_interval=200)

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
