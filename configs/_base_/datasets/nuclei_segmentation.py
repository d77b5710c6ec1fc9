# StarDist nuclei tiles as semantic segmentation (background / nucleus), prepared by
# `python tools/dataset_converters/nuclei.py` into data/nuclei (128x128 tiles, 0/1 masks).
# MMEXT_DATA: the folder holding fashion_mnist/ and nuclei/; by default data/ of this checkout,
# found from this file's location, so that runs work from any working directory.
data_dir = '{{$MMEXT_DATA:checkout}}'
if data_dir == 'checkout':
    data_dir = '{{fileDirname}}'.rsplit('/', 3)[0] + '/data'
dataset_type = 'BaseSegDataset'
data_root = data_dir + '/nuclei'
metainfo = dict(classes=('background', 'nucleus'), palette=[[0, 0, 0], [220, 20, 60]])
crop_size = (128, 128)
# normalisation of the 8-bit tiles and padding to the tile size; models use it as
# `data_preprocessor={{_base_.data_preprocessor}}`
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[60.0, 60.0, 60.0],
    std=[60.0, 60.0, 60.0],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=crop_size)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        img_suffix='.png',
        seg_map_suffix='.png',
        data_prefix=dict(img_path='images/train', seg_map_path='masks/train'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        img_suffix='.png',
        seg_map_suffix='.png',
        data_prefix=dict(img_path='images/val', seg_map_path='masks/val'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
