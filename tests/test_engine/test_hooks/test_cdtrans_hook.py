"""CDTrans pair selection: centre-aware pseudo-labels and two-way pairs by hand, the hook."""
import logging
from types import SimpleNamespace
from unittest import mock

import numpy as np
import pytest
import torch
from mmengine.runner import EpochBasedTrainLoop
from mmpretrain.structures import DataSample
from torch.utils.data import Dataset

import mmext  # noqa: F401
from mmext.datasets import SourceTargetPairDataset
from mmext.engine.hooks import CDTransPairHook
from mmext.engine.hooks.cdtrans_hook import CKPT_KEY, center_aware_pseudo_labels, two_way_pairs
from mmext.models.classifiers import CDTrans


def test_centre_aware_labels_by_hand():
    # t0 = (1, 0) and t1 = (0, 1) are confidently class 0 / 1; t2 has t0's feature but the
    # classifier leans to class 1 (softmax 0.73). With the constant 1 appended, f0 = (1, 0, 1)/√2
    # and f1 = (0, 1, 1)/√2; centre 0 ≈ f0 (t2 weighs f0 too), centre 1 ∝ f1 + 0.73 f0, so
    # cos(f0, c0) = 1 > cos(f0, c1) and t2 is relabelled 0; t1: cos(f1, c0) = 0.5 < 0.91.
    feats = torch.tensor([[1., 0.], [0., 1.], [1., 0.]])
    logits = torch.tensor([[20., 0.], [0., 20.], [0., 1.]])
    assert logits.argmax(1).tolist() == [0, 1, 1]
    assert center_aware_pseudo_labels(feats, logits).tolist() == [0, 1, 0]
    assert center_aware_pseudo_labels(feats, logits, rounds=0).tolist() == [0, 1, 0]
    # threshold 1: only class 1 is predicted by more than one sample, so it is the only label
    assert center_aware_pseudo_labels(feats, logits, threshold=1).tolist() == [1, 1, 1]
    with pytest.raises(ValueError, match='threshold'):
        center_aware_pseudo_labels(feats, logits, threshold=2)


def official_obtain_label(feats, logits, threshold=0):
    """numpy transcription of the official obtain_label (cosine cdist, one hard round)."""
    out = torch.softmax(torch.as_tensor(logits), 1).numpy()
    predict = out.argmax(1)
    f = np.concatenate([feats, np.ones((len(feats), 1), np.float32)], 1)
    f = (f.T / np.linalg.norm(f, axis=1)).T
    K = out.shape[1]

    def cos_dist(a, b):
        return 1 - (a / np.linalg.norm(a, axis=1, keepdims=True)) @ (
            b / np.linalg.norm(b, axis=1, keepdims=True)).T

    initc = out.T.dot(f) / (1e-8 + out.sum(axis=0)[:, None])
    labelset = np.where(np.eye(K)[predict].sum(axis=0) > threshold)[0]
    pred = labelset[cos_dist(f, initc[labelset]).argmin(axis=1)]
    aff = np.eye(K)[pred]
    initc = aff.T.dot(f) / (1e-8 + aff.sum(axis=0)[:, None])
    return labelset[cos_dist(f, initc[labelset]).argmin(axis=1)]


def test_centre_aware_labels_match_official_transcription():
    g = torch.Generator().manual_seed(0)
    feats = torch.randn(60, 8, generator=g)
    logits = torch.randn(60, 4, generator=g) * 3
    ours = center_aware_pseudo_labels(feats, logits)
    ref = official_obtain_label(feats.numpy(), logits.numpy())
    assert ours.tolist() == ref.tolist()


def test_two_way_pairs_by_hand():
    source = torch.tensor([[1., 0.], [0., 1.], [0.6, 0.8]])
    source_labels = torch.tensor([0, 1, 1])
    target = torch.tensor([[1., 0.1], [0.1, 1.], [1., -0.2]])
    pseudo = torch.tensor([0, 1, 1])  # t2 is wrongly pseudo-labelled 1
    # nearest source of t0, t1, t2: s0, s1, s0 (t2 -> s0 disagrees: dropped)
    # nearest target of s0, s1, s2: t0, t1, t1 (cos(s2, t1) = 0.856 > cos(s2, t0) = 0.677)
    s_idx, t_idx = two_way_pairs(source, target, source_labels, pseudo)
    assert s_idx.tolist() == [0, 1, 0, 1, 2]
    assert t_idx.tolist() == [0, 1, 0, 1, 1]
    s_idx, t_idx = two_way_pairs(source, target, source_labels, pseudo, chunk_size=1)
    assert (s_idx.tolist(), t_idx.tolist()) == ([0, 1, 0, 1, 2], [0, 1, 0, 1, 1])
    s_idx, t_idx = two_way_pairs(source, target, source_labels, pseudo, label_filter=False)
    assert (s_idx.tolist(), t_idx.tolist()) == ([0, 1, 0, 0, 1, 2], [0, 1, 2, 0, 1, 1])


class Toy(Dataset):
    """Packed 1x16x16 images with labels (as PackInputs gives)."""

    def __init__(self, n, seed):
        g = torch.Generator().manual_seed(seed)
        self.x = torch.rand(n, 1, 16, 16, generator=g) * 255
        self.y = torch.randint(0, 3, (n, ), generator=g)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return dict(inputs=self.x[i], data_samples=DataSample().set_gt_label(int(self.y[i])))


def make_runner(epoch=0):
    torch.manual_seed(0)
    model = CDTrans(
        backbone=dict(type='VisionTransformer',
                      arch=dict(embed_dims=16, num_layers=1, num_heads=2,
                                feedforward_channels=32),
                      img_size=16, patch_size=4, in_channels=1),
        head=dict(type='LinearClsHead', num_classes=3, in_channels=16))
    pairs = SourceTargetPairDataset(Toy(12, 0), Toy(10, 1))
    loader = SimpleNamespace(dataset=pairs, num_workers=0, persistent_workers=False)
    return SimpleNamespace(model=model, train_dataloader=loader, epoch=epoch,
                           train_loop=mock.Mock(spec=EpochBasedTrainLoop),
                           logger=logging.getLogger('cdtrans-test'))


def test_hook_sets_the_selected_pairs():
    runner = make_runner()
    hook = CDTransPairHook(Toy(12, 0), Toy(10, 1), interval=2, batch_size=5)
    hook.before_train(runner)
    runner.model.train()
    hook.before_train_epoch(runner)
    assert runner.model.training  # restored after the eval-mode passes
    model = runner.model.eval()
    with torch.no_grad():
        pre = model.data_preprocessor
        fs = model.extract_feat(pre(dict(inputs=list(Toy(12, 0).x), data_samples=None))
                                ['inputs'])[-1]
        tgt_in = pre(dict(inputs=list(Toy(10, 1).x), data_samples=None))['inputs']
        ft = model.extract_feat(tgt_in)[-1]
        logits = model.head((ft, ))
    pseudo = center_aware_pseudo_labels(ft, logits)
    s_idx, t_idx = two_way_pairs(fs, ft, Toy(12, 0).y, pseudo)
    pairs = runner.train_dataloader.dataset
    assert pairs.source_index.tolist() == s_idx.tolist()
    assert pairs.target_index.tolist() == t_idx.tolist()
    assert pairs.target_label.tolist() == pseudo[t_idx].tolist()
    # every kept pair agrees: source label == target pseudo-label
    assert torch.equal(Toy(12, 0).y[pairs.source_index], pairs.target_label)


def test_hook_refresh_interval_and_resume():
    runner = make_runner()
    hook = CDTransPairHook(Toy(12, 0), Toy(10, 1), interval=2)
    hook.before_train(runner)
    with mock.patch.object(hook, 'refresh', wraps=hook.refresh) as refresh:
        for epoch in range(4):
            runner.epoch = epoch
            hook.before_train_epoch(runner)
        assert refresh.call_count == 2  # epochs 0 and 2
    checkpoint = {}
    hook.before_save_checkpoint(runner, checkpoint)
    saved = runner.train_dataloader.dataset.pair_state()
    # a resumed run at epoch 3 (no refresh due) trains on the saved pairs
    resumed = make_runner(epoch=3)
    hook2 = CDTransPairHook(Toy(12, 0), Toy(10, 1), interval=2)
    hook2.before_train(resumed)
    hook2.after_load_checkpoint(resumed, checkpoint)
    with mock.patch.object(hook2, 'refresh') as refresh:
        hook2.before_train_epoch(resumed)
        refresh.assert_not_called()
    for key, value in resumed.train_dataloader.dataset.pair_state().items():
        assert torch.equal(value, saved[key]) and torch.equal(value, checkpoint[CKPT_KEY][key])


def test_hook_errors():
    with pytest.raises(ValueError, match='interval'):
        CDTransPairHook(Toy(2, 0), Toy(2, 1), interval=0)
    runner = make_runner()
    with pytest.raises(ValueError, match='target'):
        CDTransPairHook(Toy(12, 0), Toy(9, 1)).before_train(runner)
    runner.train_dataloader.num_workers = 2
    runner.train_dataloader.persistent_workers = True
    with pytest.raises(ValueError, match='persistent_workers'):
        CDTransPairHook(Toy(12, 0), Toy(10, 1)).before_train(runner)
    runner = make_runner()
    runner.train_loop = object()
    with pytest.raises(TypeError, match='epoch-based'):
        CDTransPairHook(Toy(12, 0), Toy(10, 1)).before_train(runner)
