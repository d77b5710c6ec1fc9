import json

import torch

import mmext  # noqa: F401
from mmext.models.layers import LBCConv2d

from _compression_tool_helpers import chex_masks, make_config, save_checkpoint


def _finish_lbc(model):
    for m in model.modules():
        if isinstance(m, LBCConv2d):
            m.remove_combinations(m.num_combinations - 1)


def _run(load_tool, cfg, ckpt, tmp_path, capsys):
    tool = load_tool('analysis/compression_report.py')
    out_json = tmp_path / 'rows.json'
    code = tool.main([cfg, ckpt, '--json', str(out_json)])
    text = capsys.readouterr().out
    return code, text, {r['name']: r for r in json.loads(out_json.read_text())}


def test_report_lbc_nm_conformance(load_tool, tmp_path, capsys):
    cfg = make_config(tmp_path, dict(type='mmext.LBCConv2d', N=2, M=4))
    ckpt, _ = save_checkpoint(tmp_path, cfg, _finish_lbc)
    code, text, rows = _run(load_tool, cfg, ckpt, tmp_path, capsys)
    assert code == 0 and 'conformance: OK' in text
    row = rows['backbone.layer1.0.conv1']
    assert row['check'].startswith('2:4 (0 bad') and abs(row['sparsity'] - 0.5) < 1e-6
    assert rows['backbone.conv1']['check'] == '-'  # stem left dense
    # a model whose removal schedule has not finished is not 2:4 sparse: the report says so
    ckpt2, _ = save_checkpoint(tmp_path, cfg, name='dense.pth')
    code, text, rows = _run(load_tool, cfg, ckpt2, tmp_path, capsys)
    assert code == 1 and 'FAIL' in text and not rows['backbone.layer1.0.conv1']['ok']


def test_report_binary_and_quantized(load_tool, tmp_path, capsys):
    cfg = make_config(tmp_path, dict(type='mmext.ReSTEConv2d', scale='channel'))
    ckpt, _ = save_checkpoint(tmp_path, cfg)
    code, text, rows = _run(load_tool, cfg, ckpt, tmp_path, capsys)
    assert code == 0 and rows['backbone.layer2.0.conv1']['weight_bits'] == 1
    assert rows['backbone.layer2.0.conv1']['check'] == 'binary (0 bad channels)'

    cfg = make_config(tmp_path, dict(type='mmext.LSQConv2d', weight_bits=3, act_bits=4),
                      name='lsq.py')
    ckpt, _ = save_checkpoint(tmp_path, cfg, name='lsq.pth')
    code, text, rows = _run(load_tool, cfg, ckpt, tmp_path, capsys)
    row = rows['backbone.layer1.0.conv2']
    assert code == 0 and row['weight_bits'] == 3 and row['act_bits'] == 4
    assert row['check'] == '3-bit grid (0 off)'


def test_report_gap_target_sparsity(load_tool, tmp_path, capsys):
    hooks = [dict(type='mmext.GaPHook', partitions=[r'backbone\.layer1\..*conv[12]'],
                  sparsity=0.6)]
    cfg = make_config(tmp_path, custom_hooks=hooks)
    from mmext.engine.hooks.gap_hook import magnitude_mask

    def prune(model):
        with torch.no_grad():
            for m in (model.backbone.layer1[0].conv1, model.backbone.layer1[0].conv2):
                m.weight.mul_(magnitude_mask(m.weight, 0.6))

    ckpt, _ = save_checkpoint(tmp_path, cfg, prune)
    code, text, rows = _run(load_tool, cfg, ckpt, tmp_path, capsys)
    assert code == 0 and rows['backbone.layer1.0.conv2']['check'] == 'sparsity >= 0.60'
    ckpt, _ = save_checkpoint(tmp_path, cfg, name='dense.pth')
    code, _, _ = _run(load_tool, cfg, ckpt, tmp_path, capsys)
    assert code == 1


def test_report_chex_channels(load_tool, tmp_path, capsys):
    cfg = make_config(tmp_path, custom_hooks=[dict(type='mmext.CHEXHook', end=2)])
    prepare = chex_masks()
    ckpt, model = save_checkpoint(tmp_path, cfg, prepare)
    code, text, rows = _run(load_tool, cfg, ckpt, tmp_path, capsys)
    alive = int(prepare.masks['backbone.layer2.0.conv1'].sum())
    assert code == 0 and rows['backbone.layer2.0.conv1']['check'] == f'channels {alive}/16'
    # a pruned channel still read by its consumer: inconsistent, the report fails
    off = (~prepare.masks['backbone.layer2.0.conv1']).nonzero()[0, 0]
    with torch.no_grad():
        model.backbone.layer2[0].conv2.weight[:, off] = 1.0
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), str(tmp_path / 'bad.pth'))
    code, text, rows = _run(load_tool, cfg, str(tmp_path / 'bad.pth'), tmp_path, capsys)
    assert code == 1 and not rows['backbone.layer2.0.conv1']['ok']
