import pytest
import torch

import mmext.ops.elsa as elsa_op
import mmext.ops.msda as msda_op
import mmext.ops.topk_select as topk_select


@pytest.mark.parametrize('module', [msda_op, elsa_op, topk_select])
def test_kernels_run_their_parallel_regions_on_torch_threads(module):
    # Without OpenMP at compile time ATen's header-inlined at::parallel_for is a serial loop:
    # every kernel would run on one core whatever torch.set_num_threads says.
    kernel = module._load_kernel()
    threads = torch.get_num_threads()
    try:
        for n in (1, 3):
            torch.set_num_threads(n)
            assert kernel.parallel_width() == n
    finally:
        torch.set_num_threads(threads)
