"""ChannelsLastHook: NHWC weights, same parameter objects, same training up to rounding."""
from pathlib import Path
from types import SimpleNamespace

import torch
from torch import nn

from mmext.engine.hooks import ChannelsLastHook

CFG = 'configs/baselines/resnet18-w16_1xb128-3e_fashionmnist.py'


def test_converts_in_place_and_keeps_the_function():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Conv2d(8, 4, 1)).eval()
    params = list(model.parameters())
    x = torch.randn(2, 3, 9, 9)
    before = model(x)
    ChannelsLastHook().before_train(SimpleNamespace(model=model))
    assert all(p is q for p, q in zip(params, model.parameters()))  # optimizer refs stay valid
    assert model[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert not model[0].weight.is_contiguous()
    out = model(x)
    assert out.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out, before, rtol=1e-5, atol=1e-5)


def test_training_matches_the_default_layout(tmp_path, tiny_fashion_mnist, load_tool):
    train_py = load_tool('train.py')
    runs = {}
    for name, hooks in (('nchw', []), ('nhwc', [dict(type='mmext.ChannelsLastHook')])):
        work = tmp_path / name
        cfg = tmp_path / f'{name}.py'  # --cfg-options cannot express a list of dicts
        cfg.write_text(f"_base_ = ['{Path(CFG).resolve()}']\ncustom_hooks = {hooks!r}\n")
        train_py.main([str(cfg), '--work-dir', str(work), '--no-validate', '--cfg-options',
                       'train_cfg.max_epochs=1',
                       'train_dataloader.batch_size=16', 'train_dataloader.dataset.indices=16',
                       f'train_dataloader.dataset.data_root={tiny_fashion_mnist}',
                       'train_dataloader.num_workers=0',
                       'train_dataloader.persistent_workers=False',
                       'randomness.seed=1', 'randomness.deterministic=True'])
        runs[name] = torch.load(work / 'epoch_1.pth', map_location='cpu',
                                weights_only=False)['state_dict']
    # one SGD step: the same initial weights (converted after init) and gradients up to rounding;
    # longer runs drift apart chaotically at this batch size and learning rate
    assert runs['nchw'].keys() == runs['nhwc'].keys()
    assert runs['nhwc']['backbone.conv1.weight'].is_contiguous(memory_format=torch.channels_last)
    for key, value in runs['nchw'].items():
        torch.testing.assert_close(runs['nhwc'][key], value, rtol=1e-4, atol=1e-5,
                                   msg=lambda m: f'{key}: {m}')
