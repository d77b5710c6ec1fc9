"""kNN and linear-probe top-1 of frozen features: how representation-learning papers evaluate.

Self-supervised and transfer papers (InstDisc, arXiv 1805.01978; CoKe, arXiv 2105.11527; LOOK,
arXiv 2110.06014) rate a backbone by classifying its frozen features, not by a trained head:

- weighted kNN: every test feature votes with its ``k`` nearest bank features (cosine
  similarity), each vote weighted ``exp(sim / T)`` (InstDisc's protocol, k=200, T=0.07);
- linear probe: a logistic regression fitted on the bank features, scored on the test features.

``FeatureProbeValLoop`` / ``FeatureProbeTestLoop`` run the model's ``extract_feat`` over a bank
set (usually the training images with the test pipeline) and over the val / test set, and feed
both to ``FeatureProbeMetric``, so the numbers are logged like any validation metric
(``knn/top1``, ``linear/top1``) and read by tools/analysis/compare_runs.py::

    val_cfg = dict(type='mmext.FeatureProbeValLoop', bank_dataloader=bank_dataloader)
    val_evaluator = dict(type='mmext.FeatureProbeMetric', knn_k=200, temperature=0.07,
                         linear_probe=True)
"""
from typing import Any, Dict, List, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.dist import get_world_size
from mmengine.evaluator import BaseMetric
from mmengine.model import is_model_wrapper
from mmengine.runner import TestLoop, ValLoop
from torch.utils.data import DataLoader

from mmext.models.layers.knn_votes import weighted_knn_votes
from mmext.registry import LOOPS, METRICS

__all__ = ['FeatureProbeValLoop', 'FeatureProbeTestLoop', 'FeatureProbeMetric', 'knn_predict',
           'linear_probe']


def knn_predict(query: torch.Tensor,
                bank: torch.Tensor,
                bank_labels: torch.Tensor,
                num_classes: int,
                k: int = 200,
                temperature: float = 0.07,
                chunk_size: int = 1024) -> torch.Tensor:
    """Weighted-kNN class of each query (InstDisc protocol).

    Args:
        query (Tensor): ``(Q, D)`` L2-normalised features.
        bank (Tensor): ``(N, D)`` L2-normalised features.
        bank_labels (Tensor): ``(N, )`` class indices of the bank.
        num_classes (int): Number of classes.
        k (int): Neighbours that vote (capped at N). Defaults to 200.
        temperature (float): Votes are ``exp(cosine / temperature)``. Defaults to 0.07.
        chunk_size (int): Queries per similarity block (bounds memory). Defaults to 1024.

    Returns:
        Tensor: ``(Q, )`` predicted classes.
    """
    # the shared rule normalises the k weights per query (softmax): the argmax is InstDisc's
    return torch.cat([
        weighted_knn_votes(query[start:start + chunk_size] @ bank.t(), bank_labels, num_classes,
                           k, temperature)[0].argmax(dim=1)
        for start in range(0, query.size(0), chunk_size)
    ])


def linear_probe(train_x: torch.Tensor,
                 train_y: torch.Tensor,
                 test_x: torch.Tensor,
                 num_classes: int,
                 weight_decay: float = 1e-4,
                 max_iter: int = 200) -> torch.Tensor:
    """Classes of ``test_x`` predicted by a logistic regression fitted on frozen features.

    Features are standardised with the training statistics, then a linear layer is fitted
    full-batch by L-BFGS on the cross-entropy plus ``weight_decay / 2 * ||W||^2``: deterministic,
    and with no learning rate or epoch count to tune per method.

    Args:
        train_x (Tensor): ``(N, D)`` training features.
        train_y (Tensor): ``(N, )`` training classes.
        test_x (Tensor): ``(Q, D)`` features to classify.
        num_classes (int): Number of classes.
        weight_decay (float): L2 penalty on the weights. Defaults to 1e-4.
        max_iter (int): L-BFGS iterations. Defaults to 200.

    Returns:
        Tensor: ``(Q, )`` predicted classes.
    """
    mean, std = train_x.mean(0), train_x.std(0).clamp_min(1e-6)
    train_x, test_x = (train_x - mean) / std, (test_x - mean) / std
    layer = torch.nn.Linear(train_x.size(1), num_classes).double()
    optimizer = torch.optim.LBFGS(
        layer.parameters(), max_iter=max_iter, history_size=20, line_search_fn='strong_wolfe')
    x, y = train_x.double(), train_y

    def closure():
        optimizer.zero_grad()
        loss = F.cross_entropy(layer(x), y) + 0.5 * weight_decay * layer.weight.square().sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    with torch.no_grad():
        return layer(test_x.double()).argmax(dim=1)


@METRICS.register_module()
class FeatureProbeMetric(BaseMetric):
    """kNN (and linear-probe) top-1 of frozen features; fed by :class:`FeatureProbeValLoop`.

    Each processed sample is a dict with ``feature``, ``gt_label``, ``sample_idx`` and ``bank``
    (True for the bank set). Duplicates that a distributed sampler pads in are dropped by
    ``(bank, sample_idx)``.

    Args:
        knn_k (int): Neighbours that vote. Defaults to 200 (InstDisc, CoKe).
        temperature (float): kNN vote temperature. Defaults to 0.07.
        linear_probe (bool): Also fit a logistic regression on the bank features and report
            ``linear/top1``. Defaults to False.
        linear_weight_decay (float): L2 penalty of the linear probe. Defaults to 1e-4.
        linear_max_iter (int): L-BFGS iterations of the linear probe. Defaults to 200.
        collect_device (str): Device to gather results across ranks. Defaults to 'cpu'.
    """

    def __init__(self,
                 knn_k: int = 200,
                 temperature: float = 0.07,
                 linear_probe: bool = False,
                 linear_weight_decay: float = 1e-4,
                 linear_max_iter: int = 200,
                 collect_device: str = 'cpu') -> None:
        super().__init__(collect_device=collect_device)
        if int(knn_k) != knn_k or knn_k < 1:
            raise ValueError(f'FeatureProbeMetric: "knn_k" must be a positive integer, got {knn_k}')
        if temperature <= 0:
            raise ValueError(f'FeatureProbeMetric: "temperature" must be > 0, got {temperature}')
        self.knn_k = int(knn_k)
        self.temperature = temperature
        self.linear_probe = linear_probe
        self.linear_weight_decay = linear_weight_decay
        self.linear_max_iter = linear_max_iter

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            if 'feature' not in sample:
                raise KeyError('FeatureProbeMetric needs "feature" in each sample: use it with '
                               'val_cfg=dict(type="mmext.FeatureProbeValLoop", ...) (or the '
                               'test loop)')
            self.results.append((bool(sample['bank']), int(sample['sample_idx']),
                                 sample['feature'].float().cpu(),
                                 int(sample['gt_label'].reshape(-1)[0])))

    def compute_metrics(self, results: List[tuple]) -> Dict[str, float]:
        unique = {(bank, idx): (feat, label) for bank, idx, feat, label in results}
        split = {True: ([], []), False: ([], [])}
        for (bank, _), (feat, label) in sorted(unique.items(), key=lambda item: item[0]):
            split[bank][0].append(feat)
            split[bank][1].append(label)
        if not split[True][0] or not split[False][0]:
            raise ValueError('FeatureProbeMetric needs features of both the bank and the '
                             'evaluated set')
        bank_x, test_x = torch.stack(split[True][0]), torch.stack(split[False][0])
        bank_y, test_y = torch.tensor(split[True][1]), torch.tensor(split[False][1])
        num_classes = int(max(bank_y.max(), test_y.max())) + 1
        knn = knn_predict(F.normalize(test_x, dim=1), F.normalize(bank_x, dim=1), bank_y,
                          num_classes, self.knn_k, self.temperature)
        metrics = {'knn/top1': 100. * (knn == test_y).float().mean().item()}
        if self.linear_probe:
            pred = linear_probe(bank_x, bank_y, test_x, num_classes, self.linear_weight_decay,
                                self.linear_max_iter)
            metrics['linear/top1'] = 100. * (pred == test_y).float().mean().item()
        return metrics


def _pooled(feats: Union[torch.Tensor, Sequence[torch.Tensor]]) -> torch.Tensor:
    """``(B, D)`` from ``extract_feat``'s last output (global average pool of a feature map)."""
    if isinstance(feats, (tuple, list)):
        feats = feats[-1]
    if feats.dim() == 4:  # (B, C, H, W) -> (B, C)
        return feats.mean(dim=(2, 3))
    if feats.dim() == 2:
        return feats
    raise ValueError('FeatureProbe: extract_feat must give (B, C, H, W) or (B, C) features, got '
                     f'shape {tuple(feats.shape)}')


class _FeatureProbeMixin:
    """Runs ``extract_feat`` over the bank set, then over the loop's own set (with its hooks)."""

    def _build_bank(self, runner, bank_dataloader: Union[DataLoader, Dict]) -> None:
        if isinstance(bank_dataloader, dict):
            bank_dataloader = runner.build_dataloader(bank_dataloader, seed=runner.seed)
        self.bank_dataloader = bank_dataloader

    def _probe_step(self, data_batch: dict, bank: bool) -> List[dict]:
        model = self.runner.model.module if is_model_wrapper(self.runner.model) else \
            self.runner.model
        images = data_batch['inputs']
        if isinstance(images, (list, tuple)) and all(
                torch.is_tensor(x) and x.dim() == 3 for x in images):
            # pseudo_collate gives one (C, H, W) tensor per sample; mmpretrain's
            # SelfSupDataPreprocessor would read that list as views, so stack it into one batch
            data_batch = dict(data_batch, inputs=torch.stack(images))
        data = model.data_preprocessor(data_batch, False)
        inputs = data['inputs']
        if isinstance(inputs, (list, tuple)):  # a multi-view pipeline: probe the first view
            inputs = inputs[0]
        feats = _pooled(model.extract_feat(inputs))
        return [
            dict(feature=f, gt_label=s.gt_label, sample_idx=s.sample_idx, bank=bank)
            for f, s in zip(feats, data['data_samples'])
        ]

    def _run_probe(self, stage: str) -> dict:
        self.runner.call_hook(f'before_{stage}')
        self.runner.call_hook(f'before_{stage}_epoch')
        self.runner.model.eval()
        with torch.no_grad():
            for data_batch in self.bank_dataloader:
                self.evaluator.process(data_samples=self._probe_step(data_batch, True))
        for idx, data_batch in enumerate(self.dataloader):
            self.run_iter(idx, data_batch)
        # an upper bound: the metric drops the sampler's padded duplicates itself
        size = len(self.bank_dataloader.dataset) + len(self.dataloader.dataset)
        metrics = self.evaluator.evaluate(size * get_world_size())
        self.runner.call_hook(f'after_{stage}_epoch', metrics=metrics)
        self.runner.call_hook(f'after_{stage}')
        return metrics

    @torch.no_grad()
    def _probe_iter(self, stage: str, idx: int, data_batch: dict) -> None:
        self.runner.call_hook(f'before_{stage}_iter', batch_idx=idx, data_batch=data_batch)
        outputs = self._probe_step(data_batch, False)
        self.evaluator.process(data_samples=outputs, data_batch=data_batch)
        self.runner.call_hook(
            f'after_{stage}_iter', batch_idx=idx, data_batch=data_batch, outputs=outputs)


@LOOPS.register_module()
class FeatureProbeValLoop(_FeatureProbeMixin, ValLoop):
    """Validation by kNN / linear probe on frozen features (see the module docstring).

    Args:
        runner (Runner): The runner.
        dataloader (DataLoader | dict): The evaluated set (``val_dataloader``).
        evaluator (Evaluator | dict | list): Usually ``mmext.FeatureProbeMetric``.
        bank_dataloader (DataLoader | dict): The labelled set the kNN votes come from and the
            linear probe is fitted on (the training images with the test pipeline).
        fp16 (bool): Unused (kept for ValLoop's signature). Defaults to False.
    """

    def __init__(self, runner, dataloader, evaluator, bank_dataloader,
                 fp16: bool = False) -> None:
        super().__init__(runner, dataloader, evaluator, fp16)
        self._build_bank(runner, bank_dataloader)

    def run(self) -> dict:
        return self._run_probe('val')

    def run_iter(self, idx: int, data_batch: dict) -> None:
        self._probe_iter('val', idx, data_batch)


@LOOPS.register_module()
class FeatureProbeTestLoop(_FeatureProbeMixin, TestLoop):
    """Test by kNN / linear probe on frozen features (``tools/test.py``); arguments as
    :class:`FeatureProbeValLoop`."""

    def __init__(self, runner, dataloader, evaluator, bank_dataloader,
                 fp16: bool = False) -> None:
        super().__init__(runner, dataloader, evaluator, fp16)
        self._build_bank(runner, bank_dataloader)

    def run(self) -> dict:
        return self._run_probe('test')

    def run_iter(self, idx: int, data_batch: dict) -> None:
        self._probe_iter('test', idx, data_batch)
