"""Multi-process training on machines without CUDA (torch.distributed with gloo).

mmengine 0.10.7's pytorch launcher calls ``torch.cuda.set_device`` and wraps the model in
DistributedDataParallel with ``device_ids=[LOCAL_RANK]``; both fail on a CPU-only machine. The
distributed path itself is torch.distributed through mmengine's Runner: we only start the gloo
process group first (the Runner then skips its own start) and wrap the model without device ids.
"""
import os

import torch
import torch.distributed as torch_dist
from mmengine.model import MMDistributedDataParallel

from mmext.registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """:class:`MMDistributedDataParallel` for CPU modules, which must not be given device ids.

    Args:
        module (nn.Module): The model to wrap.
        device_ids: Ignored (mmengine passes the local rank; CPU modules take none).
        **kwargs: Passed to :class:`torch.nn.parallel.DistributedDataParallel`.
    """

    def __init__(self, module, device_ids=None, **kwargs):
        super().__init__(module=module, device_ids=None, **kwargs)


def setup_cpu_distributed(cfg) -> bool:
    """Prepare ``cfg`` for a multi-process CPU run; returns whether it applies.

    Applies when a launcher is set and CUDA is unavailable: starts the gloo process group from the
    launcher's environment (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT) and selects the CPU wrapper.
    """
    if cfg.get('launcher', 'none') == 'none' or torch.cuda.is_available():
        return False
    # Config.setdefault stores a copy of a new dict, so nested defaults are assigned back.
    env_cfg = cfg.get('env_cfg') or {}
    env_cfg['dist_cfg'] = dict(env_cfg.get('dist_cfg') or {}, backend='gloo')
    cfg.env_cfg = env_cfg
    if not torch_dist.is_initialized():
        if cfg.launcher == 'slurm':
            os.environ.setdefault('RANK', os.environ['SLURM_PROCID'])
            os.environ.setdefault('WORLD_SIZE', os.environ['SLURM_NTASKS'])
        torch_dist.init_process_group(backend='gloo')
    wrapper = cfg.get('model_wrapper_cfg') or {}
    wrapper.setdefault('type', 'mmext.CPUDistributedDataParallel')
    cfg.model_wrapper_cfg = wrapper
    return True


def shutdown_distributed() -> None:
    """Wait for every rank, then close the process group (CPU and GPU runs alike).

    mmengine leaves the group open at the end of ``train()`` / ``test()``. A rank that then exits
    while gloo's worker threads still hold work is aborted during interpreter shutdown
    ("terminate called without an active exception"), failing an otherwise finished run.
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.barrier()
        torch_dist.destroy_process_group()
