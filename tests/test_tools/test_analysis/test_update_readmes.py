import json


def fake_run(root, name, top1):
    """A training work dir reduced to what compare_runs reads: one validation record."""
    vis = root / name / '20260101_000000' / 'vis_data'
    vis.mkdir(parents=True)
    (vis / 'scalars.json').write_text(json.dumps({'accuracy/top1': top1, 'step': 1}) + '\n')


README = """# Method

```bash
R={root}
python tools/analysis/compare_runs.py --metrics accuracy/top1 \\
    --run "alone=$R/a" --run "distilled=$R/b" \\
    --update-readme {readme} --section fm
```

<!-- compare_runs:fm -->
| stale | table |
<!-- /compare_runs:fm -->

```bash
python tools/analysis/compare_runs.py --run "gone=$R/missing" --update-readme {readme} --section x
```
"""


def test_regenerates_check_and_skips_missing_runs(tmp_path, load_tool, capsys):
    tool = load_tool('analysis/update_readmes.py')
    fake_run(tmp_path, 'a', 80.0)
    fake_run(tmp_path, 'b', 82.5)
    readme = tmp_path / 'README.md'
    readme.write_text(README.format(root=tmp_path, readme=readme))
    assert len(tool.table_commands(readme.read_text())) == 2

    assert tool.main([str(readme), '--check']) == 1  # stale table
    assert '| stale | table |' in readme.read_text()  # --check does not write
    assert tool.main([str(readme)]) == 0
    text = readme.read_text()
    assert '| alone | 1 | 80.00 |' in text and '| distilled | 1 | 82.50 |' in text
    assert '| stale | table |' not in text
    out = capsys.readouterr().out
    assert 'skipped' in out and 'missing' in out  # the block whose runs are gone
    assert tool.main([str(readme), '--check']) == 0  # now in sync
