"""Time a distillation step against the student alone and the teacher's forward alone.

    python tools/analysis/benchmark_distill.py CONFIG [--iters 10] [--warmup 2] [--batch-size N]
                                               [--device cpu|cuda] [--random-teacher]
                                               [--synthetic SIZE] [--cfg-options k=v ...]

CONFIG is an ``mmext.Distiller`` config. One batch of its training dataloader is reused for
every step; with ``--synthetic SIZE`` (classification configs) it is a random batch of
SIZE x SIZE images instead, so the papers' ImageNet pairs are timed without their data.

Printed: the device, the time of (1) a student training step (forward + loss + backward + SGD
step), (2) a teacher forward (eval, no_grad, as run by the distiller), (3) a distillation
training step, (4) the distillation losses alone (forward + backward of the loss modules on
recorded features: their projectors / generation blocks are trained parts of the method), and
the ratios ``distill / (student + teacher)`` (goal <= 1.15) and
``distill / (student + teacher + losses)`` (what the distiller itself adds). They are timed in
interleaved rounds and each reported as its median over the rounds, so that a load change on a
shared machine hits all of them alike.
"""
import argparse
import copy
import statistics
from typing import Callable, Dict, Optional

import torch
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope

import mmext  # noqa: F401  (registers mmext parts)
from mmext.utils import seconds_per_call


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Benchmark a distillation step')
    parser.add_argument('config', help='mmext.Distiller config')
    parser.add_argument('--iters', type=int, default=10, help='timed iterations per round')
    parser.add_argument('--rounds', type=int, default=3, help='interleaved timing rounds')
    parser.add_argument('--warmup', type=int, default=2, help='untimed iterations first')
    parser.add_argument('--batch-size', type=int, help='override the train batch size')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument(
        '--random-teacher', action='store_true',
        help='skip teacher_ckpt and keep random teacher weights (timing only)')
    parser.add_argument(
        '--synthetic', type=int, metavar='SIZE',
        help='time on random SIZE x SIZE images and labels instead of the training set '
        '(classification configs)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value pairs')
    return parser.parse_args(argv)


def train_step_fn(model: torch.nn.Module, data: Dict, forward: Callable) -> Callable[[], None]:
    """A training step (forward, loss sum, backward, SGD step) of ``model`` on ``data``."""
    params = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.SGD(params, lr=1e-4)

    def step() -> None:
        losses = forward(data)
        loss = sum(v.sum() if isinstance(v, torch.Tensor) else sum(x.sum() for x in v)
                   for k, v in losses.items() if 'loss' in k)
        optim.zero_grad()
        loss.backward()
        optim.step()

    return step


def first_batch(loader_cfg) -> Dict:
    """The first batch of the dataloader ``loader_cfg`` describes, unshuffled."""
    from mmengine.registry import DATA_SAMPLERS, DATASETS, FUNCTIONS
    loader_cfg = copy.deepcopy(loader_cfg)
    dataset = DATASETS.build(loader_cfg.dataset)
    sampler = DATA_SAMPLERS.build(dict(type='DefaultSampler', shuffle=False), default_args=dict(
        dataset=dataset))
    collate = FUNCTIONS.get(loader_cfg.get('collate_fn', {}).get('type', 'pseudo_collate'))
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=loader_cfg.batch_size, sampler=sampler, collate_fn=collate)
    return next(iter(loader))


def synthetic_batch(batch_size: int, size: int, channels: int, num_classes: int) -> Dict:
    """Random uint8 images and labels, as a classification pipeline hands them over."""
    from mmpretrain.structures import DataSample
    return dict(
        inputs=[torch.randint(0, 256, (channels, size, size), dtype=torch.uint8)
                for _ in range(batch_size)],
        data_samples=[DataSample().set_gt_label(int(label))
                      for label in torch.randint(num_classes, (batch_size, ))])


def benchmark(cfg: Config, iters: int, warmup: int, device: str, rounds: int = 3,
              synthetic: Optional[int] = None) -> Dict[str, float]:
    """Build the distiller of ``cfg`` and time the steps (on ``synthetic``-sized random images
    when given, else on one batch of the training set)."""
    from mmengine.registry import MODELS
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    device = torch.device(device)
    model = MODELS.build(cfg.model).to(device)
    model.train()
    if model.teacher is None:
        raise ValueError('the config has no teacher: nothing to compare with')

    if synthetic:
        num_classes = getattr(getattr(model.student, 'head', None), 'num_classes', None)
        if num_classes is None:
            raise ValueError('--synthetic needs a classification student (a head with '
                             f'num_classes); got a {type(model.student).__name__}')
        mean = getattr(model.data_preprocessor, 'mean', None)  # one value per input channel
        batch = synthetic_batch(cfg.train_dataloader.batch_size, synthetic,
                                3 if mean is None else mean.numel(), num_classes)
    else:
        batch = first_batch(cfg.train_dataloader)
    data = model.data_preprocessor(batch, True)

    def student_loss(d):
        return model.student.loss(d['inputs'], d['data_samples'])

    def distill_loss(d):
        return model.loss(d['inputs'], d['data_samples'])

    def teacher_forward():
        model._teacher_records(data['inputs'])

    # The distillation losses alone (their connectors / generation blocks are trained too), on
    # features recorded once: the student's become leaves so the backward stops at them.
    t_records = model._teacher_records(data['inputs'])
    s_records = model._run_recorded(lambda: student_loss(data), 'student')[1]
    s_records = {k: [_as_leaf(x) for x in v] for k, v in s_records.items()}
    labels = model._labels(data['data_samples'])

    def losses_step():
        sum(model._distill_losses(s_records, t_records, labels).values()).backward()

    fns = dict(
        student=train_step_fn(model.student, data, student_loss),
        teacher=teacher_forward,
        losses=losses_step,
        distill=train_step_fn(model, data, distill_loss))
    times = {k: [] for k in fns}
    for r in range(rounds):
        for name, fn in fns.items():
            times[name].append(seconds_per_call(fn, iters, warmup if r == 0 else 0, device))
    results = {k: statistics.median(v) for k, v in times.items()}
    results['ratio'] = results['distill'] / (results['student'] + results['teacher'])
    results['overhead'] = results['distill'] / (
        results['student'] + results['teacher'] + results['losses'])
    return results


def _as_leaf(x):
    """Detached copy of a recorded output (tensor or nested tuple / list) requiring grad."""
    if isinstance(x, torch.Tensor):
        return x.detach().requires_grad_(x.is_floating_point())
    if isinstance(x, (list, tuple)):
        return type(x)(_as_leaf(i) for i in x)
    return x


def describe_device(device: str) -> str:
    if device.startswith('cuda'):
        return torch.cuda.get_device_name(torch.device(device))
    return f'CPU ({torch.get_num_threads()} threads)'


def main(argv=None) -> Dict[str, float]:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.random_teacher:
        cfg.model.teacher_ckpt = None
        cfg.model.allow_untrained_teacher = True
    if args.batch_size:
        cfg.train_dataloader.batch_size = args.batch_size
    results = benchmark(cfg, args.iters, args.warmup, args.device, args.rounds, args.synthetic)
    data = f'random {args.synthetic}x{args.synthetic} images' if args.synthetic else 'training data'
    print(f'device: {describe_device(args.device)}; {data}, batch size '
          f'{cfg.train_dataloader.batch_size}; median of {args.rounds} rounds x {args.iters} '
          'iterations')
    print(f'student train step : {results["student"] * 1e3:9.1f} ms')
    print(f'teacher forward    : {results["teacher"] * 1e3:9.1f} ms')
    print(f'distill train step : {results["distill"] * 1e3:9.1f} ms')
    print(f'distill losses     : {results["losses"] * 1e3:9.1f} ms  (forward + backward of '
          'the loss modules alone)')
    print(f'distill / (student + teacher) = {results["ratio"]:.3f} (goal <= 1.15)')
    print(f'distill / (student + teacher + losses) = {results["overhead"]:.3f} (the '
          "distiller's own overhead)")
    return results


if __name__ == '__main__':
    main()
