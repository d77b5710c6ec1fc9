"""Wall-clock timing shared by the benchmark tools (tools/analysis/benchmark_*.py)."""
import time
from typing import Callable, Union

import torch


def seconds_per_call(fn: Callable[[], object], iters: int = 1, warmup: int = 0,
                     device: Union[str, torch.device] = 'cpu') -> float:
    """Mean wall seconds per call of ``fn`` over ``iters`` calls after ``warmup`` untimed ones.

    CUDA kernels run asynchronously, so on a CUDA ``device`` the queue is drained before the
    clock starts and before it stops; on CPU nothing needs waiting for.
    """
    if iters < 1:
        raise ValueError(f'"iters" must be >= 1, got {iters}')
    device = torch.device(device)
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == 'cuda' else (lambda: None)
    for _ in range(warmup):
        fn()
    sync()
    start = time.perf_counter()
    for _ in range(iters):
        fn()
    sync()
    return (time.perf_counter() - start) / iters
