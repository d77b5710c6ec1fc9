import json

import pytest

from mmext.utils.logs import final_metrics


def test_archive_keeps_what_the_tables_read_and_drops_checkpoints(tmp_path, load_tool):
    tool = load_tool('analysis/archive_runs.py')
    work = tmp_path / 'work_dirs' / 'coke_seed1'
    vis = work / '20260101_000000' / 'vis_data'
    vis.mkdir(parents=True)
    (vis / 'scalars.json').write_text(
        json.dumps({'lr': 0.1, 'loss': 2.0, 'step': 1}) + '\n' +
        json.dumps({'knn/top1': 57.5, 'step': 1}) + '\n')
    (vis / 'config.py').write_text('model = dict()\n')
    (work / 'epoch_1.pth').write_bytes(b'0' * 1000)
    (work / '20260101_000000' / '20260101_000000.log').write_text('log\n')

    dest = tmp_path / 'configs' / 'coke' / 'runs'
    tool.main([str(dest), str(work)])
    kept = sorted(str(p.relative_to(dest)) for p in dest.rglob('*') if p.is_file())
    assert kept == ['coke_seed1/20260101_000000/vis_data/config.py',
                    'coke_seed1/20260101_000000/vis_data/scalars.json']
    assert final_metrics(dest / 'coke_seed1') == final_metrics(work) == {'knn/top1': 57.5}

    # archiving again replaces the copy instead of mixing two runs
    (vis / 'scalars.json').write_text(json.dumps({'knn/top1': 60.0, 'step': 1}) + '\n')
    tool.main([str(dest), str(work)])
    assert final_metrics(dest / 'coke_seed1') == {'knn/top1': 60.0}


def test_archive_refuses_a_folder_without_logs(tmp_path, load_tool):
    tool = load_tool('analysis/archive_runs.py')
    (tmp_path / 'empty').mkdir()
    with pytest.raises(FileNotFoundError, match='empty'):
        tool.main([str(tmp_path / 'runs'), str(tmp_path / 'empty')])
