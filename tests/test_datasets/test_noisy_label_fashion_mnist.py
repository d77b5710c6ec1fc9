"""mmext.NoisyLabelFashionMNIST (mmext/datasets/label_noise.py) on a tiny IDX copy."""
import numpy as np
import pytest
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS

import mmext  # noqa: F401

def _write_idx(path, array):
    """Uncompressed IDX file as read by mmpretrain's MNIST datasets."""
    header = bytes([0, 0, 8, array.ndim]) + b''.join(
        int(n).to_bytes(4, 'big') for n in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_noisy_dataset_reads_the_label_file(tmp_path):
    # a tiny Fashion-MNIST in IDX format: 12 train / 4 test images
    rng = np.random.default_rng(0)
    clean = np.arange(12) % 10
    _write_idx(tmp_path / 'train-images-idx3-ubyte', rng.integers(0, 255, (12, 28, 28)))
    _write_idx(tmp_path / 'train-labels-idx1-ubyte', clean)
    _write_idx(tmp_path / 't10k-images-idx3-ubyte', rng.integers(0, 255, (4, 28, 28)))
    _write_idx(tmp_path / 't10k-labels-idx1-ubyte', np.arange(4))
    noisy = (clean + 3) % 10
    np.save(tmp_path / 'noisy.npy', noisy)

    init_default_scope('mmpretrain')
    ds_cfg = dict(type='mmext.NoisyLabelFashionMNIST', data_root=str(tmp_path), split='train',
                  download=False, noisy_label_file='noisy.npy', pipeline=[])
    ds = DATASETS.build(ds_cfg)
    assert [int(ds.get_data_info(i)['gt_label']) for i in range(12)] == noisy.tolist()
    assert [int(ds.get_data_info(i)['clean_label']) for i in range(12)] == clean.tolist()
    # the test split is untouched and needs no label file
    test_cfg = dict(ds_cfg, test_mode=True, noisy_label_file=None)
    assert [int(d['gt_label']) for d in DATASETS.build(test_cfg).load_data_list()] == \
        [0, 1, 2, 3]

    np.save(tmp_path / 'short.npy', noisy[:5])
    with pytest.raises(ValueError, match='shape'):
        DATASETS.build(dict(ds_cfg, noisy_label_file='short.npy'))
    np.save(tmp_path / 'bad.npy', noisy + 10)
    with pytest.raises(ValueError, match='outside'):
        DATASETS.build(dict(ds_cfg, noisy_label_file='bad.npy'))
    with pytest.raises(FileNotFoundError, match='label_noise.py'):
        DATASETS.build(dict(ds_cfg, noisy_label_file='missing.npy'))
    with pytest.raises(ValueError, match='noisy_label_file'):
        DATASETS.build(dict(ds_cfg, noisy_label_file=None))
