import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

import mmext  # noqa: F401
from mmext.engine.optimizers import SGDAdam
from mmext.models.layers.lts import LSQConv2d


def _params(seed):
    torch.manual_seed(seed)
    return [nn.Parameter(torch.randn(4, 3)), nn.Parameter(torch.randn(3))]


def _run(opt, params, steps=4):
    torch.manual_seed(1)
    for _ in range(steps):
        loss = sum((p * torch.randn_like(p)).sum() + p.pow(2).sum() for p in params)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return [p.detach().clone() for p in params]


def test_groups_update_like_torch_sgd_and_adam():
    sgd_p, adam_p = _params(0), _params(2)
    ours = SGDAdam([dict(params=sgd_p), dict(params=adam_p, adam=True, lr=1e-3, weight_decay=0.)],
                   lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True)
    got = _run(ours, sgd_p + adam_p)
    ref_sgd, ref_adam = _params(0), _params(2)
    ref = [torch.optim.SGD(ref_sgd, lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True),
           torch.optim.Adam(ref_adam, lr=1e-3)]

    class Both:
        def zero_grad(self):
            for o in ref:
                o.zero_grad()

        def step(self):
            for o in ref:
                o.step()

    expected = _run(Both(), ref_sgd + ref_adam)
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e)


def test_lts_recipe_gives_quantizer_steps_official_adam_updates():
    # configs/_base_/schedules/lts_sgd.py: SGD lr 0.1 for the weights, Adam lr 1e-4 without weight
    # decay for the LSQ step sizes (official zysxmu/LTS: optimizer_q = Adam(quant_params, 1e-4))
    cfg = Config.fromfile('configs/_base_/schedules/lts_sgd.py')
    model = nn.Sequential(LSQConv2d(2, 4, 3, weight_bits=2, act_bits=2))
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    opt = wrapper.optimizer
    assert isinstance(opt, SGDAdam)
    groups = {id(p): g for g in opt.param_groups for p in g['params']}
    layer = model[0]
    for p in (layer.weight_step, layer.act_step):
        g = groups[id(p)]
        assert g['adam'] and g['lr'] == pytest.approx(1e-4) and g['weight_decay'] == 0
    w = groups[id(layer.weight)]
    assert not w['adam'] and w['lr'] == pytest.approx(0.1) and w['weight_decay'] == 1e-4
    torch.manual_seed(0)
    x = torch.randn(8, 2, 6, 6)
    model(x)  # first batch initialises the steps
    steps = [layer.weight_step.detach().clone(), layer.act_step.detach().clone()]
    for it in range(3):
        wrapper.update_params(model(x).pow(2).mean())
        # Adam moves a parameter by at most ~lr per step whatever its gradient scale, and by
        # about lr while the gradient keeps its sign (SGD at 1e-4 would move it by 1e-4 x grad)
        for p, before in zip((layer.weight_step, layer.act_step), steps):
            moved = (p.detach() - before).abs().item()
            assert 0.5e-4 * (it + 1) < moved <= 1.001e-4 * (it + 1)


def test_bad_arguments():
    p = [nn.Parameter(torch.zeros(1))]
    with pytest.raises(ValueError, match='"nesterov"'):
        SGDAdam(p, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match='"betas"'):
        SGDAdam(p, lr=0.1, betas=(0.9, 1.0))
