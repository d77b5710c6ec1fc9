import numpy as np
import pytest
import torch
from mmengine.dataset import BaseDataset
from mmengine.hooks import Hook
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import mmext  # noqa: F401
from mmext.engine.hooks import KCDHook



@pytest.fixture(autouse=True)
def _default_scope():
    """Other test modules switch the global default scope; these tests build mmpretrain models."""
    init_default_scope('mmpretrain')
from mmpretrain.datasets.transforms import PackInputs  # noqa: E402

NUM = 40


class TinyDataset(BaseDataset):
    """40 random 8x8 grey images, 4 classes; ``sample_idx`` is added by BaseDataset."""

    def load_data_list(self):
        rng = np.random.default_rng(0)
        return [dict(img=(rng.random((8, 8, 1)) * 255).astype(np.float32), gt_label=i % 4)
                for i in range(NUM)]


class Recorder(Hook):
    priority = 'LOW'  # after KCDHook (NORMAL)

    def __init__(self):
        self.seen, self.epochs, self.start = {}, [], None

    def before_train(self, runner):
        kcd = next(h for h in runner.hooks if isinstance(h, KCDHook))
        self.start = dict(kept=runner.train_dataloader.sampler.kept_indices.copy(),
                          entropy_sum=kcd.entropy_sum.clone())

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.seen.setdefault(runner.epoch, []).extend(
            int(ds.sample_idx) for ds in data_batch['data_samples'])

    def after_train_epoch(self, runner):
        kcd = next(h for h in runner.hooks if isinstance(h, KCDHook))
        self.epochs.append(dict(value=kcd.knowledge_value(),
                                kept=runner.train_dataloader.sampler.kept_indices.copy(),
                                count=kcd.count.clone()))


def make_runner(work_dir, max_epochs, recorder, **kwargs):
    model = dict(
        type='ImageClassifier',
        data_preprocessor=dict(num_classes=4, mean=[127.5], std=[64.0], to_rgb=False),
        backbone=dict(type='ResNet_CIFAR', depth=18, in_channels=1, base_channels=4,
                      out_indices=(3, )),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=4, in_channels=32,
                  loss=dict(type='CrossEntropyLoss')))
    return Runner(
        model=model, work_dir=str(work_dir),
        train_dataloader=dict(
            batch_size=8, num_workers=0,
            dataset=TinyDataset(pipeline=[PackInputs()]),
            sampler=dict(type='mmext.KCDSampler', shuffle=True, seed=0)),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.05)),
        custom_hooks=[KCDHook(period=1, step=0.25, floor=0.5), recorder],
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1)),
        default_scope='mmpretrain', log_level='WARNING', randomness=dict(seed=0), **kwargs)


def test_condensation_schedule(tmp_path):
    recorder = Recorder()
    make_runner(tmp_path, 4, recorder).train()
    # 40 -> 30 (drop 25% of the full set) -> 20 (floor 50%) -> 20; never after the last epoch
    assert [len(e['kept']) for e in recorder.epochs] == [30, 20, 20, 20]
    first = recorder.epochs[0]
    # the kept samples are those of highest mean entropy
    order = torch.argsort(first['value'], descending=True, stable=True)[:30]
    assert sorted(order.tolist()) == first['kept'].tolist()
    assert first['value'][first['kept']].min() >= np.delete(
        first['value'].numpy(), first['kept']).max()
    assert (first['count'] == 1).all()  # every sample seen once in epoch 1
    assert sorted(recorder.seen[0]) == list(range(NUM))
    assert sorted(recorder.seen[1]) == recorder.epochs[0]['kept'].tolist()
    assert set(recorder.seen[2]) == set(recorder.epochs[1]['kept'].tolist())
    assert len(recorder.seen[2]) == 20


def test_resume_restores_kept_set(tmp_path):
    first = Recorder()
    make_runner(tmp_path, 2, first).train()
    ckpt = torch.load(tmp_path / 'epoch_2.pth', map_location='cpu', weights_only=False)
    assert ckpt['kcd']['kept'].tolist() == first.epochs[1]['kept'].tolist()

    resumed = Recorder()
    make_runner(tmp_path, 3, resumed, resume=True,
                load_from=str(tmp_path / 'epoch_2.pth')).train()
    assert resumed.start['kept'].tolist() == first.epochs[1]['kept'].tolist()
    assert torch.equal(resumed.start['entropy_sum'], ckpt['kcd']['entropy_sum'])
    assert set(resumed.seen[2]) == set(first.epochs[1]['kept'].tolist())


def test_errors(tmp_path):
    with pytest.raises(ValueError, match='floor'):
        KCDHook(floor=0)
    with pytest.raises(ValueError, match='period'):
        KCDHook(period=0)
    runner = make_runner(tmp_path, 1, Recorder())
    runner._train_dataloader['sampler'] = dict(type='DefaultSampler', shuffle=True)
    with pytest.raises(TypeError, match='mmext.KCDSampler'):
        runner.train()


def _official_kept_size(num, current, threshold=0.7):
    # dzy3/KCD dataset/cifar100.py, update_dataset_mul_entropy_V2
    drop = int(num * (1 - threshold) / 6)
    return int(threshold * num) if current - drop < int(threshold * num) else current - drop


@pytest.mark.parametrize('num', [50000, 50030, 70])
def test_kept_sizes_match_official(num):
    hook = KCDHook()
    current = official = num
    for _ in range(8):  # past the floor: the size stays there
        current = hook.kept_size(num, current)
        official = _official_kept_size(num, official)
        assert current == official
    assert current == int(0.7 * num)


def _official_value(record):
    # the official score: mean of the positive entries of the per-epoch entropy record
    # (-1 = not seen that epoch) times (epochs seen / 40) ** 0.03
    clipped = np.clip(record, 0.0, record.max()).sum(axis=1)
    seen = np.where(record > 0.0, 1.0, 0.0).sum(axis=1)
    return np.power(seen / 40.0, 0.03) * (clipped / seen)


def test_value_over_two_condensations_matches_official():
    from types import SimpleNamespace

    from mmengine.logging import MMLogger

    from mmext.datasets import KCDSampler
    num, period = 40, 2
    hook = KCDHook(period=period)
    sampler = KCDSampler(list(range(num)), shuffle=False, seed=0)
    runner = SimpleNamespace(train_dataloader=SimpleNamespace(sampler=sampler), max_epochs=10,
                             logger=MMLogger.get_instance('kcd_test'), epoch=0)
    hook.entropy_sum = torch.zeros(num, dtype=torch.float64)
    hook.count = torch.zeros(num, dtype=torch.float64)
    hook.epoch_entropy = torch.full((num, ), -1., dtype=torch.float64)
    rng = np.random.default_rng(0)
    # epochs 1-2: samples 0, 1 have the lowest entropy and are dropped at the first condensation;
    # samples 2-5 are kept but fall just below them in mean entropy over epochs 3-4
    entropies = rng.uniform(1.0, 2.0, (2 * period, num))
    entropies[:2, :2] = 0.5
    entropies[:2, 2:6] = 0.6
    entropies[2:, 2:6] = [0.38, 0.381, 0.382, 0.383]
    record, remain = [], np.arange(num)
    for epoch in range(2 * period):
        runner.epoch = epoch
        hook.before_train_epoch(runner)
        column = -np.ones(num)
        kept = torch.from_numpy(sampler.kept_indices)
        entropy = torch.from_numpy(entropies[epoch])[kept]
        hook.record_entropy(kept, entropy)
        column[kept.numpy()] = entropy.numpy()
        record.append(column)
        hook.after_train_epoch(runner)
        if (epoch + 1) % period == 0:
            rec = np.stack(record, axis=1)
            value = _official_value(rec)
            remain = np.argsort(value)[::-1][:_official_kept_size(num, len(remain))]
            assert np.allclose(hook.knowledge_value().numpy(), value)
            assert sampler.kept_indices.tolist() == sorted(remain.tolist())
    # second condensation: kept samples were seen 4 epochs, dropped ones 2; the (n / 40) ** 0.03
    # factor ranks samples 2-5 (mean 0.49) above the dropped 0, 1 (mean 0.5), so 0-3 go; the mean
    # entropy alone would drop 2-5 and bring 0 and 1 back
    assert sorted(hook.count.unique().tolist()) == [2., 4.]
    assert sampler.kept_indices.tolist() == list(range(4, num))
    hook.age_exponent = 0.
    mean_only = hook.knowledge_value()
    assert sorted(mean_only.argsort(descending=True)[:36].tolist()) == [0, 1] + list(range(6, num))
