"""tools/analysis/get_flops.py counts what the model really has."""
import pytest


@pytest.fixture(scope='module')
def get_flops(load_tool):
    return load_tool('analysis/get_flops.py')


def test_params_and_flops_of_the_main_config(get_flops, capsys):
    result = get_flops.main(
        ['configs/baselines/resnet18-w16_1xb128-3e_fashionmnist.py', '--shape', '28', '28'])
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS
    from mmengine.config import Config
    cfg = Config.fromfile('configs/baselines/resnet18-w16_1xb128-3e_fashionmnist.py')
    init_default_scope('mmpretrain')
    model = MODELS.build(cfg.model)
    assert result['params'] == sum(p.numel() for p in model.parameters())
    # first conv alone: 16 output channels x 9 taps x 28 x 28 positions (multiply-adds)
    assert result['flops'] > 16 * 9 * 28 * 28
    # a 3x3-conv ResNet at 28x28 with 0.7M params: tens of MFLOPs, not more
    assert 1e7 < result['flops'] < 1e8
    assert '| 28x28 |' in capsys.readouterr().out


@pytest.mark.parametrize('config', [
    'configs/baselines/retinanet_r18-w32_fpn_40e_nuclei.py',
    'configs/baselines/fcn_unet-s4-w16_600iter_nuclei.py',
])
def test_detection_and_segmentation_configs_are_counted(get_flops, config):
    result = get_flops.main([config, '--shape', '128'])
    assert result['params'] > 0 and result['flops'] > 0


def test_backbone_only(get_flops):
    config = 'configs/baselines/retinanet_r18-w32_fpn_40e_nuclei.py'
    whole = get_flops.main([config, '--shape', '64'])
    backbone = get_flops.main([config, '--shape', '64', '--backbone'])
    assert 0 < backbone['params'] < whole['params'] and 0 < backbone['flops'] < whole['flops']
    # ResNet-18 at widths 32-256 (no fc): about a quarter of ResNet-18's 11.2M
    assert abs(backbone['params'] - 2.80e6) / 2.80e6 < 0.01
    # the first conv alone: 32 output channels x 3 x 49 taps at 32x32
    assert backbone['flops'] > 32 * 3 * 49 * 32 * 32
