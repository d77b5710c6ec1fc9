# Fashion-MNIST for FixMatch-style semi-supervised training (configs/dash): the 60k training
# images are split by mmext.SemiSupervisedDataset into a class-balanced labelled subset
# (num_labels_per_class per class, drawn with split_seed) and an unlabelled pool (the other
# images), the latter in a weak and a strong view. mmext.SemiSupervisedSampler makes every batch
# one iteration: labeled_batch_size labelled images, then mu * labeled_batch_size weak and the
# matching strong views, so batch_size = labeled_batch_size * (1 + 2 * mu); a config that
# changes mu or labeled_batch_size sets all three. Evaluation: the 10k test images (base).
_base_ = ['./fashion_mnist.py']

num_labels_per_class = 25  # 250 labels
labeled_batch_size = 16
mu = 2

# FixMatch's weak augmentation (flip + translation by up to 12.5%, reflect padding) at 28x28
weak_pipeline = [
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomCrop', crop_size=28, padding=4, padding_mode='reflect'),
    dict(type='PackInputs'),
]
# FixMatch's RandAugment variant: the weak transforms, two random operations with a random
# magnitude each, then Cutout of half the image side
strong_pipeline = [
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomCrop', crop_size=28, padding=4, padding_mode='reflect'),
    # mmcv's colour operations need 3 channels: run RandAugment on the grey image replicated
    dict(
        type='mmext.GreyAsColor',
        transforms=[
            dict(
                type='RandAugment',
                policies='timm_increasing',
                num_policies=2,
                total_level=10,
                magnitude_level=10,
                magnitude_std='inf',
                hparams=dict(pad_val=128)),
        ]),
    # FixMatch fills cutout (and geometric padding) with mid grey
    dict(type='Cutout', shape=14, pad_val=128),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    _delete_=True,
    batch_size=labeled_batch_size * (1 + 2 * mu),
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        type='mmext.SemiSupervisedDataset',
        dataset=dict(
            type='FashionMNIST', data_root={{_base_.data_root}}, split='train', download=False,
            pipeline=[]),
        num_labels_per_class=num_labels_per_class,
        labeled_pipeline=weak_pipeline,
        weak_pipeline=weak_pipeline,
        strong_pipeline=strong_pipeline,
        split_seed=0),
    sampler=dict(type='mmext.SemiSupervisedSampler', labeled_batch_size=labeled_batch_size, mu=mu),
)
val_dataloader = dict(num_workers=0, persistent_workers=False)
test_dataloader = val_dataloader
