# Fashion-MNIST (28x28 grey, 10 classes, 60k train / 10k test) as prepared by
# `python tools/dataset_converters/fashion_mnist.py` (raw IDX files under data/fashion_mnist).
# MMEXT_DATA: the folder holding fashion_mnist/ and nuclei/; by default data/ of this checkout,
# found from this file's location, so that runs work from any working directory.
data_dir = '{{$MMEXT_DATA:checkout}}'
if data_dir == 'checkout':
    data_dir = '{{fileDirname}}'.rsplit('/', 3)[0] + '/data'
dataset_type = 'FashionMNIST'
data_root = data_dir + '/fashion_mnist'
num_classes = 10

data_preprocessor = dict(
    num_classes=num_classes,
    # mean / std of the training images, on the 0-255 scale
    mean=[72.94],
    std=[90.02],
    to_rgb=False)

train_pipeline = [
    dict(type='RandomCrop', crop_size=28, padding=2),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='PackInputs')]

train_dataloader = dict(
    batch_size=128,
    num_workers=2,
    persistent_workers=True,
    dataset=dict(
        type=dataset_type, data_root=data_root, split='train', download=False,
        pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
val_dataloader = dict(
    batch_size=256,
    num_workers=2,
    persistent_workers=True,
    dataset=dict(
        # mmpretrain 1.2's MNIST picks its files by test_mode, not by split: set both.
        type=dataset_type, data_root=data_root, split='test', test_mode=True, download=False,
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
