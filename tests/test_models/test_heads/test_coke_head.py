import pytest
import torch
import torch.nn.functional as F

from mmext.models.heads import CoKeHead


def _head(**kwargs):
    args = dict(num_instances=8, num_clusters=(2, ), feat_dim=2, temperature=0.5,
                dual_lr=2., ratio=0.8)
    args.update(kwargs)
    return CoKeHead(**args)


def test_constrained_assignment_and_dual_update_by_hand():
    head = _head()
    head.centres_cur_0.copy_(torch.tensor([[1., 0.], [0., 1.]]))
    x = torch.tensor([[1., 0.], [.8, .6], [.6, .8], [1., 0.]])
    # batch 1, duals 0: plain nearest centre -> clusters 0, 0, 1, 0
    labels = head.assign(x, 0)
    assert labels.tolist() == [0, 0, 1, 0]
    head.update(x, labels, 0)
    # dual ascent: rho_k <- max(0, rho_k + 2 * (0.8 / 2 - n_k / 4)), n = (3, 1)
    assert head.duals_0.tolist() == pytest.approx([0., 2 * (0.4 - 0.25)])
    # centres: mean of the members (no earlier member in this epoch), normalised
    c0 = F.normalize(torch.tensor([(1 + .8 + 1) / 3, .6 / 3]), dim=0)
    assert torch.allclose(head.centres_cur_0, torch.stack([c0, torch.tensor([.6, .8])]))
    assert head.counts_0.tolist() == [3., 1.]
    # batch 2: the dual of the under-filled cluster 1 (0.3) moves x2 over:
    # x2 . c0 = 0.8 * 0.9778 + 0.6 * 0.2095 = 0.908 < x2 . c1 + 0.3 = 0.96 + 0.3
    assert head.assign(x, 0).tolist() == [0, 1, 1, 0]
    head.update(x, head.assign(x, 0), 0)
    assert head.duals_0.tolist() == pytest.approx([0., 0.3 + 2 * (0.4 - 0.5)])
    # running mean with the earlier members: c0 <- normalise((3 * c0 + x1 + x4) / 5)
    expected = F.normalize((3 * c0 + torch.tensor([2., 0.])) / 5, dim=0)
    assert torch.allclose(head.centres_cur_0[0], expected, atol=1e-6)
    assert head.counts_0.tolist() == [5., 3.]


def test_ratio_one_keeps_negative_duals():
    # official: duals are clipped at 0 only when ratio < 1 (balanced clustering otherwise)
    head = _head(ratio=1.)
    head.centres_cur_0.copy_(torch.tensor([[1., 0.], [0., 1.]]))
    x = torch.tensor([[1., 0.], [1., 0.], [1., 0.], [0., 1.]])
    head.update(x, head.assign(x, 0), 0)
    assert head.duals_0.tolist() == pytest.approx([2 * (0.5 - 0.75), 2 * (0.5 - 0.25)])


class OfficialCoKe:
    """The clustering of idstcv/CoKe coke/builder_double_view.py (centres as (dim, K))."""

    def __init__(self, centres, num_ins, T, dual_lr, ratio):
        self.K = [c.size(1) for c in centres]
        self.T, self.dual_lr, self.ratio = T, dual_lr, ratio
        self.lb = [ratio / k for k in self.K]
        self.assign_labels = torch.ones(len(centres), num_ins, dtype=torch.long)
        self.pre_centers = [c.clone() for c in centres]
        self.cur_centers = [c.clone() for c in centres]
        self.duals = [torch.zeros(k) for k in self.K]
        self.counters = [torch.zeros(k) for k in self.K]

    def update_center(self):
        for i in range(len(self.K)):
            self.pre_centers[i] = self.cur_centers[i].clone()
            self.counters[i] = torch.zeros(self.K[i])

    def update_center_mini_batch(self, feats, labels, i):
        label_idx, label_count = torch.unique(labels, return_counts=True)
        self.duals[i][label_idx] -= self.dual_lr / len(labels) * label_count
        self.duals[i] += self.dual_lr * self.lb[i]
        if self.ratio < 1:
            self.duals[i][self.duals[i] < 0] = 0
        alpha = self.counters[i][label_idx].float()
        self.counters[i][label_idx] += label_count
        alpha = alpha / self.counters[i][label_idx].float()
        self.cur_centers[i][:, label_idx] = self.cur_centers[i][:, label_idx] * alpha
        self.cur_centers[i].index_add_(1, labels, feats.T * (1. / self.counters[i][labels]))
        self.cur_centers[i][:, label_idx] = F.normalize(self.cur_centers[i][:, label_idx], dim=0)

    def step(self, x1, x2, target, epoch, alpha):
        """Clustering of forward() and the loss of main_double_view.py (no predictor)."""
        p1, p2 = F.normalize(x1, dim=1), F.normalize(x2, dim=1)
        proj1 = [p1 @ c / self.T for c in self.pre_centers]
        proj2 = [p2 @ c / self.T for c in self.pre_centers]
        feats = (p1 + p2) * 0.5
        cur_labels = []
        for j in range(len(self.K)):
            if epoch == 0:
                labels = torch.argmax(feats @ self.cur_centers[j] + self.duals[j], dim=1)
                self.assign_labels[j][target] = labels
                self.update_center_mini_batch(feats, labels, j)
                cur_labels.append(self.assign_labels[j][target])
            else:  # labels of the last epoch
                cur_labels.append(self.assign_labels[j][target].clone())
                labels = torch.argmax(feats @ self.cur_centers[j] + self.duals[j], dim=1)
                self.update_center_mini_batch(feats, labels, j)
                self.assign_labels[j][target] = labels
        loss = 0
        for j in range(len(self.K)):
            s1, s2 = F.softmax(proj1[j], 1), F.softmax(proj2[j], 1)
            for logits, soft in ((proj1[j], s2), (proj2[j], s1)):
                # pred == proj without a predictor: both branches count
                term = alpha * F.cross_entropy(logits, cur_labels[j]) - (1 - alpha) * torch.mean(
                    torch.sum(F.log_softmax(logits, 1) * soft, 1))
                loss = loss + 2 * term
        return 0.5 / (2. * len(self.K)) * loss, cur_labels


def test_matches_official_clustering_and_loss_over_epochs():
    torch.manual_seed(0)
    head = CoKeHead(num_instances=12, num_clusters=(3, 4), feat_dim=5, temperature=0.05,
                    dual_lr=20., ratio=0.4)
    ref = OfficialCoKe([head.centres_cur_0.t().clone(), head.centres_cur_1.t().clone()], 12,
                       0.05, 20., 0.4)
    for epoch in range(3):
        head.set_epoch(epoch)
        if epoch:
            ref.update_center()
        for ids in torch.randperm(12).view(3, 4):
            x1, x2 = torch.randn(4, 5), torch.randn(4, 5)
            expected, labels = ref.step(x1, x2, ids, epoch, alpha=0.2)
            out = head.loss([x1, x2], [], ids)
            assert torch.allclose(out['loss'], expected, atol=1e-5)
        for j in range(2):
            assert torch.allclose(getattr(head, f'centres_cur_{j}'), ref.cur_centers[j].t(),
                                  atol=1e-5)
            assert torch.allclose(getattr(head, f'duals_{j}'), ref.duals[j], atol=1e-5)
            assert torch.equal(head.labels[j], ref.assign_labels[j])
    assert int(head.epoch) == 2


def test_multi_crop_loss_and_gradients():
    torch.manual_seed(0)
    head = _head(num_clusters=(3, ), feat_dim=4, beta=0.5)
    views = [torch.randn(4, 4, requires_grad=True) for _ in range(4)]  # 2 large, 2 small
    out = head.loss(views[:2], views[2:], torch.arange(4))
    assert set(out) == {'loss', 'large_views', 'small_crops'}
    assert torch.allclose(out['loss'], 0.5 * out['large_views'] + 0.5 * out['small_crops'])
    out['loss'].backward()
    assert all(v.grad is not None and v.grad.abs().sum() > 0 for v in views)


def test_bad_config_and_inputs():
    with pytest.raises(ValueError, match='num_instances'):
        CoKeHead(num_instances=4, num_clusters=(8, ))
    with pytest.raises(ValueError, match='num_clusters'):
        CoKeHead(num_instances=40, num_clusters=())
    with pytest.raises(ValueError, match='ratio'):
        CoKeHead(num_instances=40, num_clusters=(4, ), ratio=1.5)
    head = _head()
    with pytest.raises(ValueError, match='num_instances=8'):
        head.loss([torch.randn(2, 2)] * 2, [], torch.tensor([0, 8]))
    with pytest.raises(ValueError, match='2 large views'):
        head.loss([torch.randn(2, 2)], [], torch.tensor([0, 1]))
    with pytest.raises(ValueError, match='feat_dim'):
        head.loss([torch.randn(2, 3)] * 2, [], torch.tensor([0, 1]))


def test_fp32_under_autocast():
    torch.manual_seed(0)
    head = _head(num_clusters=(3, ), feat_dim=4)
    twin = _head(num_clusters=(3, ), feat_dim=4)
    twin.load_state_dict(head.state_dict())
    views = [torch.randn(4, 4) for _ in range(2)]
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = head.loss(views, [], torch.arange(4))
    ref = twin.loss(views, [], torch.arange(4))
    assert out['loss'].dtype == torch.float32
    assert torch.allclose(out['loss'], ref['loss'], atol=1e-6)
