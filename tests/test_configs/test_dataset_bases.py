"""The dataset bases find the data from any working directory (or MMEXT_DATA) and combine with
host model, schedule and runtime bases."""
import os
from pathlib import Path

import pytest
from mmengine.config import Config

REPO = Path(__file__).resolve().parents[2]
BASES = {
    'fashion_mnist.py': 'fashion_mnist',
    'nuclei_detection.py': 'nuclei',
    'nuclei_segmentation.py': 'nuclei',
}


@pytest.mark.parametrize('base, folder', BASES.items())
def test_data_root_does_not_depend_on_the_working_directory(base, folder, tmp_path,
                                                            monkeypatch):
    monkeypatch.delenv('MMEXT_DATA', raising=False)
    monkeypatch.chdir(tmp_path)
    cfg = Config.fromfile(str(REPO / 'configs/_base_/datasets' / base))
    root = Path(cfg.train_dataloader.dataset.data_root)
    assert root.is_absolute() and root == REPO / 'data' / folder
    monkeypatch.setenv('MMEXT_DATA', str(tmp_path / 'elsewhere'))
    cfg = Config.fromfile(str(REPO / 'configs/_base_/datasets' / base))
    assert Path(cfg.val_dataloader.dataset.data_root) == tmp_path / 'elsewhere' / folder


def test_a_config_trains_from_another_folder(tmp_path, monkeypatch, fashion_mnist_root):
    """The main config resolves its data (and its prepared files exist) from /tmp."""
    from mmext.utils import check_data_roots
    monkeypatch.delenv('MMEXT_DATA', raising=False)
    monkeypatch.chdir(tmp_path)
    cfg = Config.fromfile(str(REPO / 'configs/baselines/resnet18-w16_1xb128-3e_fashionmnist.py'))
    check_data_roots(cfg, ['train_dataloader', 'val_dataloader'])
    assert os.path.samefile(cfg.train_dataloader.dataset.data_root, fashion_mnist_root)


def test_nuclei_base_next_to_host_model_bases():
    cfg = Config.fromfile(str(REPO / 'configs/baselines/retinanet_r18-w32_fpn_40e_nuclei.py'))
    path = REPO / 'configs/_base_/datasets/nuclei_detection.py'
    combined = Config.fromstring(
        "_base_ = ['mmdet::_base_/models/retinanet_r50_fpn.py', "
        f"'{path}', 'mmdet::_base_/schedules/schedule_1x.py', "
        "'mmdet::_base_/default_runtime.py']\n", '.py')
    assert combined.model.type == 'RetinaNet' and combined.default_scope == 'mmdet'
    assert combined.train_dataloader.dataset.data_root == cfg.train_dataloader.dataset.data_root
