"""tools/analysis/plot_curves.py and compare_runs.py on tiny work dirs in mmengine's log format."""
import json

import numpy as np
import pytest
from PIL import Image


def make_work_dir(root, name, top1, losses=(2.0, 1.5, 1.0)):
    """A work dir as tools/train.py leaves it: <ts>/vis_data/scalars.json, one JSON per line."""
    vis = root / name / '20260101_000000' / 'vis_data'
    vis.mkdir(parents=True)
    records = [dict(lr=0.1, loss=l, time=0.5, data_time=0.1, epoch=1, iter=i + 1, step=i + 1)
               for i, l in enumerate(losses)]
    records.append({'accuracy/top1': top1, 'data_time': 0.1, 'time': 0.2, 'step': 1})
    (vis / 'scalars.json').write_text('\n'.join(json.dumps(r) for r in records) + '\n')
    return str(root / name)


@pytest.fixture(scope='module')
def plot_curves(load_tool):
    return load_tool('analysis/plot_curves.py')


@pytest.fixture(scope='module')
def compare_runs(load_tool):
    return load_tool('analysis/compare_runs.py')


def test_curves_of_two_runs_in_one_png(tmp_path, plot_curves):
    a = make_work_dir(tmp_path, 'student', 80.0)
    b = make_work_dir(tmp_path, 'distilled', 82.0, losses=(2.0, 1.2, 0.8))
    curves = plot_curves.collect([('student', a), ('distilled', b)])
    assert set(curves) == {'loss', 'lr', 'accuracy/top1'}
    assert curves['loss']['distilled'] == ([1, 2, 3], [2.0, 1.2, 0.8])
    out = plot_curves.main([a, b, '--labels', 'student', 'distilled', '--out',
                            str(tmp_path / 'curves.png')])
    image = np.array(Image.open(out).convert('L'))
    assert image.shape[0] > 100 and image.shape[1] > 300
    assert image.std() > 10  # something was drawn, not a blank canvas


def test_curves_unknown_key_is_named(tmp_path, plot_curves):
    a = make_work_dir(tmp_path, 'run', 80.0)
    with pytest.raises(KeyError, match='mIoU'):
        plot_curves.collect([('run', a)], keys=['mIoU'])


def test_compare_runs_mean_and_spread(tmp_path, compare_runs):
    seeds = [make_work_dir(tmp_path, f's{i}', v) for i, v in enumerate((80.0, 82.0, 84.0))]
    single = make_work_dir(tmp_path, 'other', 70.0)
    table = compare_runs.main(['--run', 'student=' + ','.join(seeds), '--run', f'one={single}'])
    lines = table.splitlines()
    assert lines[0] == '| run | seeds | accuracy/top1 |'
    assert lines[2] == '| student | 3 | 82.00 ± 2.00 |'  # sample std of 80, 82, 84
    assert lines[3] == '| one | 1 | 70.00 |'
    # a row name may contain "=": the work dirs follow the last one
    table = compare_runs.main(['--run', f'T=1, k=2={single}'])
    assert table.splitlines()[2] == '| T=1, k=2 | 1 | 70.00 |'


def make_test_dir(root, name, results):
    """A work dir as tools/test.py leaves it: <ts>/<ts>.json per test run, newest last."""
    for ts, top1 in results:
        (root / name / ts).mkdir(parents=True)
        (root / name / ts / f'{ts}.json').write_text(
            json.dumps({'accuracy/top1': top1, 'data_time': 0.1, 'time': 0.2}))
    return str(root / name)


def test_compare_runs_reads_test_results(tmp_path, compare_runs):
    test_dir = make_test_dir(tmp_path, 'shifted', [('20260101_000000', 50.0),
                                                   ('20260102_000000', 64.5)])
    table = compare_runs.main(['--run', f'AdaNPC={test_dir}', '--precision', '1'])
    assert table.splitlines()[2] == '| AdaNPC | 1 | 64.5 |'  # the newest test, no bookkeeping
    with pytest.raises(FileNotFoundError, match='scalars.json'):
        compare_runs.main(['--run', f'empty={tmp_path / "nothing"}'])


def test_compare_runs_rejects_a_bad_run_spec(compare_runs):
    with pytest.raises(SystemExit):
        compare_runs.main(['--run', 'no-equals-sign'])


README = ('# Method\n\nTyped text, kept as is.\r\n\n'
          '<!-- compare_runs:fm -->\n| old | table |\n<!-- /compare_runs:fm -->\n\ntail ±\n')


def test_compare_runs_context_columns_and_precision(tmp_path, compare_runs):
    a = make_work_dir(tmp_path, 'a', 80.123)
    b = make_work_dir(tmp_path, 'b', 70.0)
    table = compare_runs.main(['--run', f'A={a}', '--run', f'B={b}', '--column', 'params',
                               '0.1M', '0.2M', '--precision', '1'])
    assert table.splitlines() == ['| run | params | seeds | accuracy/top1 |',
                                  '| --- | --- | --- | --- |',
                                  '| A | 0.1M | 1 | 80.1 |', '| B | 0.2M | 1 | 70.0 |']
    with pytest.raises(SystemExit):  # one value per run
        compare_runs.main(['--run', f'A={a}', '--run', f'B={b}', '--column', 'params', '0.1M'])


def test_compare_runs_updates_the_readme_block_only(tmp_path, compare_runs):
    run = make_work_dir(tmp_path, 'run', 81.5)
    readme = tmp_path / 'README.md'
    readme.write_bytes(README.encode())
    table = compare_runs.main(['--run', f'ours={run}', '--update-readme', str(readme),
                               '--section', 'fm'])
    text = readme.read_bytes().decode()
    head, tail = README.split('| old | table |\n')
    assert text == head + table + '\n' + tail  # rest byte-identical, CRLF included
    assert '| ours | 1 | 81.50 |' in text and 'old' not in text
    # regenerating gives the same file
    compare_runs.main(['--run', f'ours={run}', '--update-readme', str(readme), '--section', 'fm'])
    assert readme.read_bytes().decode() == text


@pytest.mark.parametrize('content, match', [
    ('no markers at all\n', 'exactly one'),
    ('<!-- compare_runs:fm -->\nonly the opening one\n', 'exactly one'),
    ('<!-- /compare_runs:fm -->\n<!-- compare_runs:fm -->\n', 'comes before'),
    ('<!-- compare_runs:other -->\n\n<!-- /compare_runs:other -->\n', 'compare_runs:fm'),
])
def test_compare_runs_missing_markers_raise(tmp_path, compare_runs, content, match):
    run = make_work_dir(tmp_path, 'run', 81.5)
    readme = tmp_path / 'README.md'
    readme.write_text(content)
    with pytest.raises(ValueError, match=match):
        compare_runs.main(['--run', f'ours={run}', '--update-readme', str(readme),
                           '--section', 'fm'])
    assert readme.read_text() == content  # untouched on error


def test_compare_runs_update_needs_a_section(tmp_path, compare_runs):
    run = make_work_dir(tmp_path, 'run', 81.5)
    with pytest.raises(SystemExit):
        compare_runs.main(['--run', f'ours={run}', '--update-readme', str(tmp_path / 'R.md')])


def test_compare_runs_reads_a_validation_part_way(tmp_path, compare_runs):
    """``DIR@STEP`` reads the validation logged at that step, the plain DIR the last one."""
    run = make_work_dir(tmp_path, 'run', 90.0)
    vis = tmp_path / 'run' / '20260101_000000' / 'vis_data' / 'scalars.json'
    with vis.open('a') as f:  # a later validation, at step 3
        f.write(json.dumps({'accuracy/top1': 95.0, 'time': 0.2, 'step': 3}) + '\n')
    table = compare_runs.main(['--run', f'half={run}@1', '--run', f'end={run}',
                               '--run', f'end@3={run}@3', '--precision', '1'])
    assert table.splitlines()[2:] == ['| half | 1 | 90.0 |', '| end | 1 | 95.0 |',
                                      '| end@3 | 1 | 95.0 |']
    with pytest.raises(ValueError, match=r'no validation at step 2; it has \[1, 3\]'):
        compare_runs.main(['--run', f'x={run}@2'])
    with pytest.raises(ValueError, match='must be an integer'):
        compare_runs.main(['--run', f'x={run}@last'])
