"""tools/analysis/nas_search.py: deterministic, budget-respecting evolutionary search."""
import random

import pytest
import torch
from mmengine.registry import init_default_scope

import mmext  # noqa: F401
from mmext.utils.zero_shot_nas import backbone_complexity

START = [
    {'class': 'ConvKXBNRELU', 'in': 3, 'out': 8, 's': 2, 'k': 3},
    {'class': 'SuperResK1KXK1', 'in': 8, 'out': 16, 's': 2, 'k': 3, 'L': 1, 'btn': 8},
    {'class': 'SuperResK1KXK1', 'in': 16, 'out': 24, 's': 2, 'k': 3, 'L': 1, 'btn': 8},
]
SHAPE = (3, 32, 32)


@pytest.fixture(scope='module')
def tool(load_tool):
    init_default_scope('mmdet')
    return load_tool('analysis/nas_search.py')


def _run(tool, score='maedet', seed=0, iterations=8, cfg=None, **budget):
    import os.path as osp
    tools_dir = osp.join(osp.dirname(__file__), '..', '..', '..', 'tools', 'analysis')
    weights = (0, 1, 6) if score == 'maedet' else ()
    fn = tool.make_score_fn(score, SHAPE, 2, 1, weights, tools_dir)
    cfg = cfg or dict(type='mmext.MAEDet', arch=START, out_indices=(1, ))
    return tool.search(cfg, fn, SHAPE, population=4, iterations=iterations, seed=seed,
                       log=None, **budget)


def test_deterministic_and_within_budget(tool):
    with torch.device('cpu'):
        from mmext.models.backbones.maedet import MAEDet
        start_flops = backbone_complexity(MAEDet(arch=START, out_indices=-1), SHAPE)[1]
    budget = 3 * start_flops
    a = _run(tool, budget_flops=budget, budget_layers=13)
    b = _run(tool, budget_flops=budget, budget_layers=13)
    assert a['best'] == b['best'] and a['history'] == b['history']
    assert [m['arch'] for m in a['population']] == [m['arch'] for m in b['population']]
    assert len(a['population']) > 1 and a['evaluated'] > 1
    for m in a['population']:
        assert m['flops'] <= budget and m['layers'] <= 13
    # the flops reported are those of the built backbone
    best = a['best']
    assert backbone_complexity(MAEDet(arch=best['arch'], out_indices=-1), SHAPE)[1] == best['flops']
    assert a['history'] == sorted(a['history'])  # the best never gets worse
    assert a['best']['score'] >= a['population'][-1]['score']
    c = _run(tool, seed=1, budget_flops=budget, budget_layers=13)
    assert c['history'] != a['history'] or c['population'] != a['population']
    # resuming continues the iterations from the saved population
    d = _run(tool, budget_flops=budget, budget_layers=13, iterations=3, resume=a)
    assert d['history'][:len(a['history'])] == a['history'] and len(d['history']) == 11
    assert d['best']['score'] >= a['best']['score']


def test_tight_budget_rejects_everything_bigger(tool):
    from mmext.models.backbones.maedet import MAEDet
    start_flops = backbone_complexity(MAEDet(arch=START, out_indices=-1), SHAPE)[1]
    result = _run(tool, budget_flops=start_flops, iterations=6)
    assert all(m['flops'] <= start_flops for m in result['population'])
    with pytest.raises(ValueError, match='initial backbone .* exceeds the budget'):
        _run(tool, budget_flops=start_flops - 1, iterations=1)
    with pytest.raises(ValueError, match='initial backbone'):
        _run(tool, budget_params=10, iterations=1)


def test_maedet_mutations_keep_official_constraints(tool):
    space = tool.MAEDetSpace(budget_layers=30)
    rng = random.Random(0)
    g = [dict(b) for b in START]
    for _ in range(300):
        space.mutate_block(g, rng.randrange(len(g)), rng)
        space.fix(g)
        assert g[0]['out'] <= 32 and g[0]['out'] <= g[1]['out']
        for i, b in enumerate(g[1:], 1):
            assert b['in'] == g[i - 1]['out'] and b['k'] in (3, 5) and b['L'] >= 1
            assert b['out'] / 10 <= b['btn'] <= max(b['out'], b['btn']) and b['btn'] % 8 == 0
        assert g[1]['L'] <= 3 and g[2]['L'] <= 30 // 3 // 1
    mmext.models.backbones.maedet.parse_maedet_structure(g)  # still a valid structure


@pytest.mark.parametrize('cfg', [
    dict(type='mmext.ZenNet', arch=dict(stem_channels=8, blocks=[[2, 3, 16, 2, 8, 1]],
                                        last_channels=16, use_se=False)),
    dict(type='mmext.GENet', arch=dict(stem_channels=8, stages=[['XX', 8, 3, 2, 1.0, 1],
                                                                ['DW', 16, 3, 2, 2.0, 1]],
                                       last_channels=16)),
])
def test_zen_score_on_zennet_and_genet(tool, cfg):
    a = _run(tool, score='zen', cfg=cfg, iterations=4)
    b = _run(tool, score='zen', cfg=cfg, iterations=4)
    assert a['best'] == b['best']
    assert len(a['population']) >= 1


def test_unknown_backbone_names_the_key(tool):
    with pytest.raises(ValueError, match='"model.backbone.type" .*ResNet.* has no search space'):
        tool.build_space('ResNet')
