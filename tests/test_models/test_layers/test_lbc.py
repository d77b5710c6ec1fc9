import math

import pytest
import torch
import torch.nn as nn

import mmext  # noqa: F401
from mmext.models.layers import LBCConv2d, LBCLinear, combination_matrix
from mmext.models.layers.compression_utils import nm_violations


def test_combination_matrix():
    c = combination_matrix(2, 4)
    assert c.shape == (6, 4) and torch.all(c.sum(1) == 2)
    assert len({tuple(r.tolist()) for r in c}) == 6
    assert combination_matrix(1, 4).shape == (4, 4)
    assert combination_matrix(2, 8).shape == (math.comb(8, 2), 8)


def test_lbc_initially_dense_and_equal_to_conv():
    conv = LBCConv2d(8, 4, 3, padding=1, N=2, M=4)
    assert conv.lbc_scores.shape == (4 * 3 * 3 * 8 // 4, 6)
    assert torch.allclose(conv.lbc_scores, torch.full_like(conv.lbc_scores, 1 / 3))
    x = torch.randn(2, 8, 5, 5)
    assert torch.allclose(conv(x), nn.functional.conv2d(x, conv.weight, conv.bias, padding=1))


def test_lbc_score_gradient_closed_form():
    # dL/dscore_c = sum over the N positions j of c of dL/dw_eff_j * w_j (straight-through mask)
    torch.manual_seed(0)
    fc = LBCLinear(8, 3, N=2, M=4)
    x = torch.randn(5, 8)
    out = fc(x)
    g_out = torch.randn_like(out)
    out.backward(g_out)
    g_weff = g_out.t() @ x  # (3, 8): gradient w.r.t. the effective weight
    per_pos = (g_weff * fc.weight.detach()).reshape(-1, 4)  # (groups, M)
    expected = per_pos @ fc.combinations.t()  # (groups, C)
    assert torch.allclose(fc.lbc_scores.grad, expected, atol=1e-5)


def test_lbc_removal_reaches_exact_nm_and_keeps_best_combination():
    conv = LBCConv2d(8, 4, 1, N=1, M=4)
    with torch.no_grad():
        conv.lbc_scores.copy_(torch.arange(4.).repeat(conv.lbc_scores.shape[0], 1))
    conv.remove_combinations(2)
    assert not conv.nm_satisfied and int(conv.lbc_alive.sum(1).max()) == 2
    conv.remove_combinations(3)
    assert conv.nm_satisfied
    w = conv.export_weight()
    assert nm_violations(w, 1, 4) == 0
    # the surviving combination is the highest-scored one: position 3 of every group
    groups = w.reshape(4, 8).reshape(-1, 4)
    assert torch.all(groups[:, :3] == 0) and torch.all(groups[:, 3] != 0)
    # dead scores receive no gradient
    conv(torch.randn(1, 8, 2, 2)).sum().backward()
    assert torch.all(conv.lbc_scores.grad[:, :3] == 0)


@pytest.mark.parametrize('n,m', [(2, 4), (1, 4), (2, 8), (4, 8)])
def test_lbc_any_nm(n, m):
    conv = LBCConv2d(16, 4, 3, N=n, M=m)
    conv.remove_combinations(conv.num_combinations - 1)
    assert nm_violations(conv.export_weight(), n, m) == 0
    assert math.isclose(float((conv.export_weight() == 0).float().mean()), 1 - n / m)


def test_lbc_bad_config():
    with pytest.raises(ValueError, match='"N" must be <= "M"'):
        LBCConv2d(8, 8, 1, N=5, M=4)
    with pytest.raises(ValueError, match='divisible by "M"=4'):
        LBCConv2d(3, 8, 3, N=2, M=4)
    with pytest.raises(ValueError, match='positive ints'):
        LBCLinear(8, 8, N=0, M=4)
