import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

from mmext.evaluation.feature_probe import FeatureProbeMetric, knn_predict, linear_probe


def test_knn_votes_by_hand():
    bank = F.normalize(torch.tensor([[1., 0.], [0.8, 0.6], [0., 1.], [-1., 0.]]), dim=1)
    labels = torch.tensor([0, 1, 1, 2])
    query = F.normalize(torch.tensor([[1., 0.1]]), dim=1)
    # k=2: the two nearest are bank 0 (class 0) and bank 1 (class 1)
    sims = query @ bank.t()
    vote0, vote1 = math.exp(sims[0, 0] / 5.), math.exp(sims[0, 1] / 5.)
    assert vote0 > vote1
    assert knn_predict(query, bank, labels, 3, k=2, temperature=5.).tolist() == [0]
    # k=3 adds bank 2 (class 1): two class-1 votes now outweigh one class-0 vote
    vote1 += math.exp(sims[0, 2] / 5.)
    assert vote1 > vote0
    assert knn_predict(query, bank, labels, 3, k=3, temperature=5.).tolist() == [1]
    # chunking does not change the answer; k beyond the bank size is capped
    queries = torch.randn(7, 2)
    queries = F.normalize(queries, dim=1)
    assert torch.equal(knn_predict(queries, bank, labels, 3, k=9, chunk_size=2),
                       knn_predict(queries, bank, labels, 3, k=4, chunk_size=100))


def test_linear_probe_separates_blobs():
    gen = torch.Generator().manual_seed(0)
    centres = torch.tensor([[4., 0., 0.], [0., 4., 0.], [0., 0., 4.]])
    y = torch.arange(3).repeat_interleave(50)
    x = centres[y] + torch.randn(150, 3, generator=gen)
    pred = linear_probe(x[::2], y[::2], x[1::2], 3)
    assert (pred == y[1::2]).float().mean() > 0.95


def _samples(feats, labels, bank, start=0):
    return [dict(feature=f, gt_label=torch.tensor([l]), sample_idx=start + i, bank=bank)
            for i, (f, l) in enumerate(zip(feats, labels))]


def test_metric_drops_padding_duplicates_and_reports_both():
    gen = torch.Generator().manual_seed(1)
    centres = torch.eye(4)[:, :3] * 3
    y = torch.tensor([0, 1, 2, 0, 1, 2] * 5)
    x = centres[y] + 0.1 * torch.randn(len(y), 3, generator=gen)
    metric = FeatureProbeMetric(knn_k=3, linear_probe=True)
    metric.process(None, _samples(x[:20], y[:20], True))
    metric.process(None, _samples(x[20:], y[20:], False))
    # a distributed sampler's padding repeats samples: they must not count twice
    metric.process(None, _samples(x[20:21], y[20:21], False))
    result = metric.compute_metrics(metric.results)
    assert result == {'knn/top1': 100.0, 'linear/top1': 100.0}


def test_metric_rejects_bad_settings():
    with pytest.raises(ValueError, match='knn_k'):
        FeatureProbeMetric(knn_k=0)
    with pytest.raises(ValueError, match='temperature'):
        FeatureProbeMetric(temperature=0)


def test_val_loop_equals_direct_knn(fashion_mnist_root, tmp_path):
    """The loop's knn/top1 equals kNN computed by hand from extract_feat on the same images."""
    from mmengine.runner import Runner
    cfg = Config.fromfile('configs/baselines/resnet18-w16_1xb128-3e_fashionmnist.py')
    probe = Config.fromfile('configs/_base_/feature_probe_fashionmnist.py')
    cfg.work_dir = str(tmp_path)
    cfg.default_hooks.checkpoint.save_best = None  # nothing was trained
    cfg.val_cfg = cfg.test_cfg = probe.val_cfg
    cfg.val_evaluator = cfg.test_evaluator = dict(probe.val_evaluator, knn_k=5)
    bank = cfg.val_cfg.bank_dataloader
    bank.dataset.indices = 64
    cfg.val_dataloader.dataset.indices = 32
    for loader in (bank, cfg.val_dataloader):
        loader.update(num_workers=0, persistent_workers=False, batch_size=16)
    cfg.test_dataloader = cfg.val_dataloader
    runner = Runner.from_cfg(cfg)
    metrics = runner.val()
    assert set(metrics) == {'knn/top1', 'linear/top1'}
    assert runner.test() == metrics  # tools/test.py's loop gives the same numbers

    model = runner.model.eval()

    def features(loader):
        xs, ys = [], []
        for batch in loader:
            data = model.data_preprocessor(batch, False)
            with torch.no_grad():
                xs.append(model.extract_feat(data['inputs'])[-1])
            ys += [s.gt_label.item() for s in data['data_samples']]
        return torch.cat(xs), torch.tensor(ys)

    bank_x, bank_y = features(runner.val_loop.bank_dataloader)
    test_x, test_y = features(runner.val_dataloader)
    assert bank_x.shape == (64, 128)
    pred = knn_predict(F.normalize(test_x, dim=1), F.normalize(bank_x, dim=1), bank_y, 10, k=5)
    assert metrics['knn/top1'] == pytest.approx(100. * (pred == test_y).float().mean().item())


@pytest.mark.parametrize('preprocessor', ['SelfSupDataPreprocessor', 'ClsDataPreprocessor'])
def test_probe_step_reads_both_collates(preprocessor):
    """Per-sample tensors (pseudo_collate) and a stacked batch (default_collate) give the same
    features, also through the self-supervised preprocessor that reads a list as views."""
    from types import SimpleNamespace

    from mmengine.dataset import default_collate, pseudo_collate
    from mmpretrain.registry import MODELS
    from mmpretrain.structures import DataSample

    from mmext.evaluation.feature_probe import FeatureProbeValLoop

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.data_preprocessor = MODELS.build(
                dict(type=preprocessor, mean=[10.], std=[2.], to_rgb=False))

        def extract_feat(self, x):
            return (x.flatten(1)[:, :4], )

    gen = torch.Generator().manual_seed(0)
    samples = [dict(inputs=torch.randint(0, 255, (1, 3, 3), generator=gen, dtype=torch.uint8),
                    data_samples=DataSample(sample_idx=i).set_gt_label(i % 2)) for i in range(5)]
    loop = FeatureProbeValLoop.__new__(FeatureProbeValLoop)
    loop._runner = SimpleNamespace(model=Model())
    expected = (torch.stack([s['inputs'] for s in samples]).float().flatten(1)[:, :4] - 10) / 2
    for collate in (pseudo_collate, default_collate):
        out = loop._probe_step(collate(samples), bank=True)
        assert torch.allclose(torch.stack([o['feature'] for o in out]), expected)
        assert [o['sample_idx'] for o in out] == list(range(5))
