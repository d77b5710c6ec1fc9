"""mmext.RankAverageLossHook: two gloo processes log the mean of their losses."""
import multiprocessing

import torch
import torch.distributed as dist

from mmext.engine.hooks import RankAverageLossHook


def _rank(rank, port, queue):
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank,
                            world_size=2)
    try:
        outputs = {'loss': torch.tensor(1.0 + rank), 'loss_cls': torch.tensor(4.0 * rank),
                   'acc': torch.tensor([50.0 + 10 * rank])}
        RankAverageLossHook().after_train_iter(None, 0, outputs=outputs)
        queue.put((rank, {key: value.item() for key, value in outputs.items()}))
    finally:
        dist.destroy_process_group()


def test_logged_losses_are_the_mean_over_ranks(free_port):
    ctx = multiprocessing.get_context('fork')
    queue = ctx.Queue()
    procs = [ctx.Process(target=_rank, args=(rank, free_port, queue)) for rank in range(2)]
    for proc in procs:
        proc.start()
    results = dict(queue.get(timeout=120) for _ in procs)
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    assert results[0] == results[1] == {'loss': 1.5, 'loss_cls': 2.0, 'acc': 55.0}


def test_single_process_outputs_are_unchanged():
    outputs = {'loss': torch.tensor(3.0)}
    RankAverageLossHook().after_train_iter(None, 0, outputs=outputs)
    assert outputs['loss'].item() == 3.0
