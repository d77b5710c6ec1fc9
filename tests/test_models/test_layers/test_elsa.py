"""Tests of mmext.models.layers.elsa against a deliberately simple unfold-based reference."""
from typing import Optional

import pytest
import torch
import torch.nn.functional as F

from mmext.models.layers.elsa import ELSA, elsa_aggregate
from mmext.registry import MODELS


def elsa_reference(v: torch.Tensor,
                   attn: torch.Tensor,
                   ghost_mul: Optional[torch.Tensor] = None,
                   ghost_add: Optional[torch.Tensor] = None,
                   kernel_size: int = 7,
                   dilation: int = 1) -> torch.Tensor:
    """ELSA's aggregation written literally: gather every k x k neighbourhood with ``F.unfold``
    (zero padding), build the per-pixel filters ``ghost_mul * attn + ghost_add`` and sum.

    Shapes as :func:`mmext.models.layers.elsa.elsa_aggregate`: ``v`` (B, G, Cg, H, W),
    ``attn`` (B, G, k*k, H, W), ghosts (G, Cg, k*k) or None. Materialises (B, C, k*k, H*W)
    tensors on purpose; used as the ground truth and as the benchmark baseline.
    """
    B, G, Cg, H, W = v.shape
    K = kernel_size * kernel_size
    cols = F.unfold(v.reshape(B, G * Cg, H, W), kernel_size, dilation=dilation,
                    padding=kernel_size // 2 * dilation).reshape(B, G, Cg, K, H * W)
    mul = ghost_mul if ghost_mul is not None else v.new_ones(G, Cg, K)
    add = ghost_add if ghost_add is not None else v.new_zeros(G, Cg, K)
    filters = mul[None, ..., None] * attn.reshape(B, G, 1, K, H * W) + add[None, ..., None]
    return (cols * filters).sum(3).reshape(B, G, Cg, H, W)


def elsa_module_reference(m: ELSA, x: torch.Tensor) -> torch.Tensor:
    """The whole ELSA module (B, H, W, C) -> (B, H, W, C) from its parameters, via the reference."""
    B, H, W, _ = x.shape
    G, K = m.num_heads, m.kernel_size**2
    qkv = F.conv2d(x.permute(0, 3, 1, 2), m.pre_proj.weight, m.pre_proj.bias)
    q, k, v = qkv.split([m.dim_qk, m.dim_qk, m.dim_v], 1)
    conv, _, pw = m.attn
    a = F.conv2d(q * k * m.scale, conv.weight, conv.bias, padding=conv.padding,
                 dilation=conv.dilation, groups=conv.groups)
    a = F.conv2d(F.gelu(a), pw.weight, pw.bias).reshape(B, G, K, H, W).softmax(2)
    mul = m.ghost_mul**m.lam if m.ghost_mul is not None else None
    add = m.ghost_add * m.gamma if m.ghost_add is not None else None
    shape = (G, m.dim_v // G, K)
    out = elsa_reference(
        v.reshape(B, G, m.dim_v // G, H, W), a, mul.reshape(shape) if mul is not None else None,
        add.reshape(shape) if add is not None else None, m.kernel_size, m.dilation)
    return F.linear(out.reshape(B, m.dim_v, H, W).permute(0, 2, 3, 1), m.post_proj.weight,
                    m.post_proj.bias)


def _inputs(B, G, Cg, H, W, k, with_mul, with_add, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(B, G, Cg, H, W, generator=g, dtype=dtype)
    attn = torch.randn(B, G, k * k, H, W, generator=g, dtype=dtype).softmax(2)
    mul = torch.randn(G, Cg, k * k, generator=g, dtype=dtype) if with_mul else None
    add = torch.randn(G, Cg, k * k, generator=g, dtype=dtype) * .1 if with_add else None
    return v, attn, mul, add


# (B, G, Cg, H, W, kernel, dilation): odd sizes, maps smaller than the kernel, dilation
CASES = [
    (2, 2, 3, 7, 5, 3, 1),
    (1, 3, 4, 9, 11, 7, 1),
    (2, 1, 2, 3, 2, 7, 1),  # the whole map is inside one neighbourhood: borders everywhere
    (1, 2, 3, 10, 7, 5, 2),
    (1, 1, 1, 1, 1, 3, 1),
]


@pytest.mark.parametrize('case', CASES)
@pytest.mark.parametrize('with_mul,with_add', [(True, True), (False, True), (True, False),
                                               (False, False)])
def test_aggregate_matches_reference(case, with_mul, with_add):
    B, G, Cg, H, W, k, d = case
    v, attn, mul, add = _inputs(B, G, Cg, H, W, k, with_mul, with_add)
    leaves = [t.requires_grad_() for t in (v, attn, mul, add) if t is not None]
    out = elsa_aggregate(v, attn, mul, add, k, d)
    ref = elsa_reference(v, attn, mul, add, k, d)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    grad = torch.randn_like(out)
    grads = torch.autograd.grad(out, leaves, grad)
    ref_grads = torch.autograd.grad(ref, leaves, grad)
    for g_ours, g_ref in zip(grads, ref_grads):
        torch.testing.assert_close(g_ours, g_ref, atol=1e-5, rtol=1e-5)


def test_aggregate_gradcheck():
    v, attn, mul, add = _inputs(1, 2, 2, 4, 3, 3, True, True, dtype=torch.float64)
    leaves = [t.requires_grad_() for t in (v, attn, mul, add)]
    assert torch.autograd.gradcheck(lambda *t: elsa_aggregate(*t, 3, 1), leaves)


def test_aggregate_saves_little_for_backward():
    """The point of the production op: autograd keeps O(C*H*W), not O(k*k*C*H*W)."""
    v, attn, mul, add = _inputs(1, 2, 8, 16, 16, 7, True, True)
    leaves = [t.requires_grad_() for t in (v, attn, mul, add)]

    def saved_bytes(fn):
        total = []

        def pack(t):
            total.append(t.numel() * t.element_size())
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            fn(*leaves, 7, 1)
        return sum(total)

    assert saved_bytes(elsa_aggregate) * 10 < saved_bytes(elsa_reference)


def test_traced_path_matches():
    """The tracing-only unfold path (FLOP counting / export) computes the same function."""
    v, attn, mul, add = _inputs(1, 2, 3, 6, 5, 3, True, True)
    traced = torch.jit.trace(lambda a, b, c, d: elsa_aggregate(a, b, c, d, 3, 1),
                             (v, attn, mul, add), check_trace=False)
    torch.testing.assert_close(traced(v, attn, mul, add),
                               elsa_reference(v, attn, mul, add, 3, 1), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('lam,gamma', [(1., 1.), (0., 1.), (1., 0.), (0., 0.)])
def test_module_matches_reference(lam, gamma):
    torch.manual_seed(0)
    m = MODELS.build(dict(type='mmext.ELSA', embed_dims=12, num_heads=2, kernel_size=5,
                          group_width=4, lam=lam, gamma=gamma))
    assert m.dim_qk == 8  # 12 // 3 * 2 rounded to a multiple of group_width
    x = torch.randn(2, 7, 9, 12)
    torch.testing.assert_close(m(x), elsa_module_reference(m, x), atol=1e-5, rtol=1e-5)


def test_module_backward_reaches_every_parameter():
    torch.manual_seed(0)
    m = ELSA(16, num_heads=2, kernel_size=3, group_width=4, lam=1., gamma=1.)
    m(torch.randn(1, 5, 6, 16)).square().mean().backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_module_bf16_autocast():
    torch.manual_seed(0)
    m = ELSA(16, num_heads=2, kernel_size=3, group_width=4, lam=1., gamma=1.)
    x = torch.randn(2, 6, 5, 16)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = m(x)
    assert out.dtype == torch.bfloat16 and torch.isfinite(out.float()).all()
    torch.testing.assert_close(out.float(), m(x), atol=5e-2, rtol=5e-2)
    out.float().sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in m.parameters())


def test_bad_configs():
    with pytest.raises(ValueError, match='kernel_size'):
        ELSA(16, 2, kernel_size=4)
    with pytest.raises(ValueError, match='num_heads'):
        ELSA(16, 3)
    with pytest.raises(ValueError, match='dilation'):
        ELSA(16, 2, dilation=0)
    with pytest.raises(ValueError, match=r'\(B, H, W, 16\)'):
        ELSA(16, 2)(torch.randn(1, 16, 4, 4))
    v, attn, _, _ = _inputs(1, 2, 3, 4, 4, 3, False, False)
    with pytest.raises(ValueError, match='"attn" must have shape'):
        elsa_aggregate(v, attn, kernel_size=5)
