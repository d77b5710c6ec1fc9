"""tools/dataset_converters on the real offline sources."""
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

FASHION_SRC = Path('/usr/share/datasets/fashion-mnist')


@pytest.fixture(scope='module')
def fashion(load_tool):
    return load_tool('dataset_converters/fashion_mnist.py')


@pytest.fixture(scope='module')
def nuclei(load_tool):
    return load_tool('dataset_converters/nuclei.py')


def test_fashion_mnist_is_readable_by_mmpretrain(tmp_path, fashion):
    if not FASHION_SRC.is_dir():
        pytest.skip('dataset-fashion-mnist is not installed')
    fashion.main(['--out', str(tmp_path)])
    fashion.main(['--out', str(tmp_path)])  # a second run keeps everything
    from mmpretrain.datasets import FashionMNIST
    train = FashionMNIST(data_root=str(tmp_path), split='train', download=False)
    test = FashionMNIST(data_root=str(tmp_path), split='test', test_mode=True, download=False)
    assert len(train) == 60000 and len(test) == 10000
    # the classes are balanced: 6000 training images each
    assert np.bincount(train.get_gt_labels(), minlength=10).tolist() == [6000] * 10
    assert train.get_data_info(0)['img'].shape == (28, 28)


def test_fashion_mnist_missing_source_names_install_command(tmp_path, fashion):
    with pytest.raises(SystemExit) as exc:
        fashion.main(['--src', str(tmp_path / 'nowhere'), '--out', str(tmp_path / 'out')])
    assert 'apt-get install -y dataset-fashion-mnist' in str(exc.value)


def test_nuclei_detection_and_segmentation_layouts(tmp_path, nuclei, nuclei_root):
    wheel = nuclei.find_wheel('')
    nuclei.main(['--wheel', str(wheel), '--out', str(tmp_path)])
    from pycocotools.coco import COCO
    counts = {}
    for split, tiles in (('train', 35), ('val', 4)):
        coco = COCO(str(tmp_path / 'annotations' / f'instances_{split}.json'))
        assert len(coco.getImgIds()) == tiles
        counts[split] = len(coco.getAnnIds())
        ann = coco.loadAnns(coco.getAnnIds())[0]
        decoded = coco.annToMask(ann)
        assert decoded.sum() == ann['area']
        x, y, w, h = ann['bbox']
        assert decoded[:, :x].sum() == 0 and decoded[y + h:, :].sum() == 0
        masks = sorted((tmp_path / 'masks' / split).glob('*.png'))
        assert len(masks) == tiles
        values = np.unique(np.array(Image.open(masks[0])))
        assert set(values.tolist()) <= {0, 1}
    # the val quarter of a 125-nucleus image holds roughly a quarter of them
    assert 15 <= counts['val'] <= 60 and counts['train'] > 3 * counts['val']
    # the tiles never overlap between train and val
    train_x = [int(p.stem.split('_x')[1]) for p in (tmp_path / 'images' / 'train').glob('*.png')]
    assert max(train_x) + 128 <= 384


def test_nuclei_missing_wheel_names_download_command(tmp_path, nuclei):
    with pytest.raises(SystemExit) as exc:
        nuclei.main(['--wheel', str(tmp_path / 'missing.whl'), '--out', str(tmp_path)])
    assert 'pip download --no-deps stardist==0.9.2' in str(exc.value)
