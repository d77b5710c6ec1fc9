"""The process-group helpers of tools/train.py and tools/test.py, in one gloo process."""
import torch.distributed as dist
from mmengine.config import Config

from mmext.engine import setup_cpu_distributed, shutdown_distributed


def test_setup_then_shutdown(monkeypatch, free_port):
    assert not setup_cpu_distributed(Config(dict(launcher='none')))  # nothing to start
    monkeypatch.setenv('RANK', '0')
    monkeypatch.setenv('WORLD_SIZE', '1')
    monkeypatch.setenv('MASTER_ADDR', '127.0.0.1')
    monkeypatch.setenv('MASTER_PORT', free_port)
    cfg = Config(dict(launcher='pytorch'))
    try:
        assert setup_cpu_distributed(cfg)
        assert dist.is_initialized() and dist.get_backend() == 'gloo'
        assert cfg.env_cfg.dist_cfg.backend == 'gloo'
        assert cfg.model_wrapper_cfg.type == 'mmext.CPUDistributedDataParallel'
        shutdown_distributed()
        assert not dist.is_initialized()
        shutdown_distributed()  # a no-op once closed (and in single-process runs)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
