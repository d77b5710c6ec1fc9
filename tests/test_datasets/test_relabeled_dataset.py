"""mmext.RelabeledDataset (mmext/datasets/relabeled_dataset.py) on a tiny Fashion-MNIST copy."""
import numpy as np
import pytest
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS

import mmext  # noqa: F401

COARSE = [0, 1, 0, 0, 0, 2, 0, 2, 3, 2]


def _write_idx(path, array):
    """Uncompressed IDX file as read by mmpretrain's MNIST datasets."""
    header = bytes([0, 0, 8, array.ndim]) + b''.join(
        int(n).to_bytes(4, 'big') for n in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def inner(tmp_path):
    """Config of a 20-image Fashion-MNIST whose labels are 0..9, 0..9."""
    rng = np.random.default_rng(0)
    _write_idx(tmp_path / 'train-images-idx3-ubyte', rng.integers(0, 255, (20, 28, 28)))
    _write_idx(tmp_path / 'train-labels-idx1-ubyte', np.arange(20) % 10)
    # mmpretrain checks that the test files exist too
    _write_idx(tmp_path / 't10k-images-idx3-ubyte', rng.integers(0, 255, (2, 28, 28)))
    _write_idx(tmp_path / 't10k-labels-idx1-ubyte', np.arange(2))
    init_default_scope('mmpretrain')
    return dict(type='FashionMNIST', data_root=str(tmp_path), split='train', download=False,
                pipeline=[dict(type='PackInputs')])


def _build(inner, **kwargs):
    return DATASETS.build(dict(type='mmext.RelabeledDataset', dataset=inner, **kwargs))


def test_fine_to_coarse(inner):
    ds = _build(inner, label_map=COARSE)
    assert len(ds) == 20
    assert ds.get_gt_labels().tolist() == COARSE * 2
    assert ds.metainfo['classes'] == ('T-shirt/top/Pullover/Dress/Coat/Shirt', 'Trouser',
                                      'Sandal/Sneaker/Ankle boot', 'Bag')
    item = ds[15]  # original class 5 (Sandal) -> footwear
    sample = item['data_samples']
    assert sample.gt_label.tolist() == [2]
    assert (sample.sample_idx, sample.ori_label) == (15, 5)
    assert item['inputs'].shape == (1, 28, 28)
    info = ds.get_data_info(8)
    assert (int(info['gt_label']), int(info['ori_label']), info['sample_idx']) == (3, 8, 8)
    assert ds.get_cat_ids(1) == [1]


def test_class_subset_is_relabelled_in_the_given_order(inner):
    ds = _build(inner, keep_classes=[7, 5, 9], classes=('sneaker', 'sandal', 'boot'))
    assert len(ds) == 6
    # kept in dataset order: originals 5, 7, 9, 15, 17, 19 -> new labels 1, 0, 2, 1, 0, 2
    assert ds.get_gt_labels().tolist() == [1, 0, 2, 1, 0, 2]
    assert ds.metainfo['classes'] == ('sneaker', 'sandal', 'boot')
    sample = ds[3]['data_samples']
    # dense sample_idx (for per-sample memories), original label kept
    assert (sample.sample_idx, sample.ori_label, sample.gt_label.item()) == (3, 5, 1)


def test_label_map_with_dropped_classes_and_file(inner, tmp_path):
    ds = _build(inner, label_map=[-1, 0, -1, 1, -1, -1, -1, -1, -1, -1])
    assert ds.get_gt_labels().tolist() == [0, 1, 0, 1]
    assert ds.metainfo['classes'] == ('Trouser', 'Dress')
    # the layout of the official CoIns ImageNet mapping: coarse index last
    path = tmp_path / 'mapping.txt'
    path.write_text(''.join(f'n{i:08d},n0,group,{c}\n' for i, c in enumerate(COARSE)) + '\n')
    ds = _build(inner, label_map_file=str(path))
    assert ds.get_gt_labels().tolist() == COARSE * 2


def test_lazy_init(inner):
    ds = _build(inner, keep_classes=[0], lazy_init=True)
    assert not ds._fully_initialized
    assert len(ds) == 2 and ds._fully_initialized


@pytest.mark.parametrize('kwargs, match', [
    (dict(), 'exactly one'),
    (dict(label_map=COARSE, keep_classes=[0]), 'exactly one'),
    (dict(label_map=COARSE[:9]), 'label_map'),
    (dict(label_map=[0, 2] * 5), 'label_map'),
    (dict(label_map=[-2] + COARSE[1:]), 'label_map'),
    (dict(keep_classes=[0, 10]), 'keep_classes'),
    (dict(keep_classes=[1, 1]), 'keep_classes'),
    (dict(keep_classes=[]), 'keep_classes'),
    (dict(keep_classes=[0, 1], classes=('a', )), 'classes'),
])
def test_bad_config_fails_at_build_naming_the_key(inner, kwargs, match):
    with pytest.raises(ValueError, match=match):
        _build(inner, lazy_init=True, **kwargs)


def test_bad_label_file(inner, tmp_path):
    with pytest.raises(FileNotFoundError, match='label_map_file'):
        _build(inner, label_map_file=str(tmp_path / 'missing.txt'))
    path = tmp_path / 'bad.txt'
    path.write_text('n1,n0,animal,zero\n')
    with pytest.raises(ValueError, match='bad.txt:1'):
        _build(inner, label_map_file=str(path))


def test_pipeline_must_pack_inputs(inner):
    ds = _build(dict(inner, pipeline=[]), keep_classes=[0])
    with pytest.raises(TypeError, match='PackInputs'):
        ds[0]
