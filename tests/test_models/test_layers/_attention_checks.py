"""Check shared by the attention-layer tests (imported as a sibling module of the test files)."""
from typing import Callable

import torch


def check_matches_reference(fn: Callable[..., torch.Tensor],
                            reference: Callable[..., torch.Tensor], q: torch.Tensor,
                            k: torch.Tensor, v: torch.Tensor) -> None:
    """``fn(q, k, v)`` equals ``reference`` on detached copies, outputs and input gradients.

    Args:
        fn: The attention under test; ``q``, ``k``, ``v`` must require gradients.
        reference: A simple reference implementation with the same signature.
        q, k, v: The inputs.
    """
    out = fn(q, k, v)
    qr, kr, vr = [t.detach().clone().requires_grad_() for t in (q, k, v)]
    ref = reference(qr, kr, vr)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    grad = torch.randn_like(out)
    out.backward(grad)
    ref.backward(grad)
    for t, tr in zip((q, k, v), (qr, kr, vr)):
        torch.testing.assert_close(t.grad, tr.grad, atol=1e-5, rtol=1e-5)
