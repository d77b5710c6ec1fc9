from . import checkpoint_loader, hooks, optimizers  # noqa: F401
from .cpu_distributed import (CPUDistributedDataParallel, setup_cpu_distributed,
                              shutdown_distributed)

__all__ = ['CPUDistributedDataParallel', 'setup_cpu_distributed', 'shutdown_distributed']
from . import schedulers  # noqa: F401,E402
