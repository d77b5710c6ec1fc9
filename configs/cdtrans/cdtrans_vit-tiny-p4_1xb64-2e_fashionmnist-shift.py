# Stage 2, CDTrans arm of the Fashion-MNIST demo (arXiv 2109.06165): clean Fashion-MNIST (source,
# labelled) -> shifted Fashion-MNIST (target, unlabelled). Starts from the stage-1 source-only
# model (load_from) and runs the schedule of the source-only arm
# (vit-tiny-p4-bnneck_1xb64-2e_fashionmnist-shift-sourceonly.py): each iteration takes 64
# source-target pairs chosen by the two-way centre-aware selection (mmext.CDTransPairHook),
# refreshed at the start of every epoch (official: every 10 of 40 epochs). Source: the first 10k
# training images; target: the 10k shifted test images, labels unused (transductive, as the
# official protocol, which adapts on and evaluates the same target images); an epoch is 10k
# pairs, as the source-only arm's epoch is 10k source images. Loss weights 1 / 1 / 1 (source CE,
# target pseudo-label CE, cross -> target distillation), as official.
_base_ = ['./vit-tiny-p4-bnneck_1xb64-2e_fashionmnist-shift-sourceonly.py']

model = dict(type='mmext.CDTrans', source_weight=1.0, target_weight=1.0, distill_weight=1.0)

source_set = dict(
    type=_base_.dataset_type, data_root=_base_.data_root, split='train', download=False,
    indices=_base_.num_source)
# mmpretrain 1.2's MNIST picks its files by test_mode, not by split: set both
target_set = dict(source_set, split='test', test_mode=True, indices=None)
target_train_pipeline = [_base_.domain_shift] + _base_.train_pipeline

train_dataloader = dict(
    _delete_=True,
    batch_size=64,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        type='mmext.SourceTargetPairDataset',
        source=dict(source_set, pipeline=_base_.train_pipeline),
        target=dict(target_set, pipeline=target_train_pipeline),
        epoch_length=_base_.num_source),
    sampler=dict(type='DefaultSampler', shuffle=True))

custom_hooks = [
    dict(
        type='mmext.CDTransPairHook',
        source=dict(source_set, pipeline=_base_.test_pipeline),
        target=dict(target_set, pipeline=_base_.target_test_pipeline),
        interval=1,
        pseudo_label_filter=True,
        batch_size=256)
]
