"""Knowledge Condensation Distillation schedule (Li et al., arXiv 2207.05409; official code:
dzy3/KCD)."""
import math
from typing import Optional

import torch
import torch.nn.functional as F
from mmengine.dist import all_reduce
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmext.registry import HOOKS

__all__ = ['KCDHook']

# where a classifier's logits come from: mmpretrain heads return them from forward()
_DEFAULT_LOGIT_MODULES = ('student.head', 'head')


@HOOKS.register_module()
class KCDHook(Hook):
    """Condense the training set to the samples that still carry knowledge for the student.

    From "Knowledge Condensation Distillation" (Li et al., ECCV 2022, arXiv 2207.05409). The
    knowledge value of a sample is the entropy of the student's own prediction on it, averaged
    over the ``n`` epochs in which it was seen (high entropy = the student is still unsure, so
    the teacher's knowledge is still useful), times ``(n / age_norm) ** age_exponent``, which
    favours the samples kept longer (official ``update_dataset_mul_entropy_V2``: ``(n / 40) **
    0.03``; it matters from the second condensation on, when kept and dropped samples have been
    seen a different number of times). Every ``period`` epochs the samples of the whole
    training set, dropped ones included as in the official code, are ranked by value and the
    top ``max(int(floor * N), kept - int(step * N))`` are kept (the official truncations), so a
    set that reached the floor is still re-ranked. The kept indices go to
    :class:`mmext.KCDSampler`. Published setting (CIFAR-100, 240 epochs): ``period=40``,
    ``floor=0.7``, ``step=(1 - 0.7) / 6 = 0.05``. Entropies are read from a forward hook on the
    student's logit module and matched to ``sample_idx`` in the data samples' metainfo
    (mmpretrain's ``PackInputs`` keeps it); as in the official record, an epoch counts the last
    entropy of each sample seen in it, and only if it is positive. The kept set and the running
    statistics are saved in checkpoints and restored on resume.

    Not reproduced: the official ``v3`` variant also mixes the images of the dropped samples into
    the least valuable kept ones (a pixel-space mixup of the dataset); this hook only selects.

    Note:
        A shorter epoch shrinks ``len(train_dataloader)``: epoch-based parameter schedulers are
        unaffected, iteration-based ones (``convert_to_iter_based=True``) were sized for the
        full set.

    Args:
        period (int): Condense every ``period`` epochs. Defaults to 40 (paper).
        step (float): Fraction of the full training set dropped at each condensation.
            Defaults to 0.05 (paper).
        floor (float): Smallest kept fraction of the full training set. Defaults to 0.7 (paper).
        age_exponent (float): Exponent of the seen-epochs factor of the value; 0 ranks by the
            mean entropy alone (not official). Defaults to 0.03 (official).
        age_norm (float): Epoch count the seen-epochs factor is divided by (a common scale that
            does not change the ranking). Defaults to 40 (official).
        begin_epoch (int): No condensation before this many epochs. Defaults to 0.
        logit_module (str, optional): Module path (in the unwrapped model) whose forward
            output are the student's logits ``(N, C)``. Defaults to None: ``student.head`` for
            :class:`mmext.Distiller`, else ``head``.
    """

    priority = 'NORMAL'

    def __init__(self,
                 period: int = 40,
                 step: float = 0.05,
                 floor: float = 0.7,
                 age_exponent: float = 0.03,
                 age_norm: float = 40.,
                 begin_epoch: int = 0,
                 logit_module: Optional[str] = None) -> None:
        if not isinstance(period, int) or period < 1:
            raise ValueError(f'"period" must be an int >= 1, got {period!r}')
        if not 0 < step < 1:
            raise ValueError(f'"step" must be in (0, 1), got {step}')
        if not 0 < floor <= 1:
            raise ValueError(f'"floor" must be in (0, 1], got {floor}')
        if age_exponent < 0 or age_norm <= 0:
            raise ValueError(f'"age_exponent" must be >= 0 and "age_norm" > 0, got '
                             f'{age_exponent} and {age_norm}')
        if begin_epoch < 0:
            raise ValueError(f'"begin_epoch" must be >= 0, got {begin_epoch}')
        self.period = period
        self.step = step
        self.floor = floor
        self.age_exponent = age_exponent
        self.age_norm = age_norm
        self.begin_epoch = begin_epoch
        self.logit_module = logit_module
        self.entropy_sum: Optional[torch.Tensor] = None  # (num_samples, ) float64
        self.count: Optional[torch.Tensor] = None  # (num_samples, ) float64, epochs seen
        # entropy of each sample in the current epoch, -1 where not seen (official record)
        self.epoch_entropy: Optional[torch.Tensor] = None
        self.kept: Optional[torch.Tensor] = None  # sorted kept dataset indices
        self._logits: Optional[torch.Tensor] = None
        self._capture = False
        self._handle = None

    # ------------------------------------------------------------------ setup
    @staticmethod
    def _sampler(runner):
        from mmext.datasets import KCDSampler
        sampler = runner.train_dataloader.sampler
        if not isinstance(sampler, KCDSampler):
            raise TypeError('KCDHook needs train_dataloader.sampler=dict(type="mmext.KCDSampler"), '
                            f'got {type(sampler).__name__}')
        return sampler

    def before_train(self, runner) -> None:
        """Check the sampler, hook the logit module and allocate the statistics."""
        sampler = self._sampler(runner)
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        named = dict(model.named_modules())
        candidates = [self.logit_module] if self.logit_module else list(_DEFAULT_LOGIT_MODULES)
        path = next((p for p in candidates if p in named), None)
        if path is None:
            raise ValueError(f'KCDHook: logit module {candidates} not found in '
                             f'{type(model).__name__}; set "logit_module"')
        self._handle = named[path].register_forward_hook(self._record_logits)
        num = len(sampler.dataset)
        if self.entropy_sum is None or self.entropy_sum.numel() != num:
            self.entropy_sum = torch.zeros(num, dtype=torch.float64)
            self.count = torch.zeros(num, dtype=torch.float64)
        if self.epoch_entropy is None or self.epoch_entropy.numel() != num:
            self.epoch_entropy = torch.full((num, ), -1., dtype=torch.float64)
        if self.kept is not None:
            sampler.set_kept_indices(self.kept.tolist())

    def after_train(self, runner) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def _record_logits(self, module, inputs, output) -> None:
        if self._capture and isinstance(output, torch.Tensor):
            self._logits = output.detach()

    # ------------------------------------------------------------------ statistics
    def before_train_epoch(self, runner) -> None:
        self.epoch_entropy.fill_(-1.)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        self._capture = True
        self._logits = None

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        """Accumulate the entropy of the student's predictions per sample index."""
        self._capture = False
        if self._logits is None or data_batch is None:
            return
        samples = data_batch['data_samples']
        try:
            idx = torch.tensor([int(ds.metainfo['sample_idx']) for ds in samples])
        except KeyError as err:
            raise KeyError('KCDHook needs "sample_idx" in the data samples\' metainfo (keep it '
                           'in PackInputs.meta_keys)') from err
        logits = self._logits.float()
        if logits.dim() != 2 or logits.size(0) != idx.numel():
            raise ValueError(f'KCDHook expects (N, C) logits for {idx.numel()} samples, got '
                             f'{tuple(logits.shape)}')
        log_p = F.log_softmax(logits, dim=1)
        self.record_entropy(idx, -(log_p.exp() * log_p).sum(dim=1))
        self._logits = None

    def record_entropy(self, idx: torch.Tensor, entropy: torch.Tensor) -> None:
        """Store the entropies (N, ) of the samples ``idx`` (N, ) seen in this epoch."""
        self.epoch_entropy[idx] = entropy.detach().double().cpu()

    def end_epoch_statistics(self) -> None:
        """Add this epoch's entropies (official: clipped at 0, counted where positive)."""
        self.entropy_sum += self.epoch_entropy.clamp(min=0)
        self.count += (self.epoch_entropy > 0).double()
        self.epoch_entropy.fill_(-1.)

    def knowledge_value(self) -> torch.Tensor:
        """Mean entropy x (epochs seen / ``age_norm``) ** ``age_exponent`` per sample, over all
        ranks; samples never seen get -inf."""
        total, count = self.entropy_sum.clone(), self.count.clone()
        # every rank saw different samples: sum the statistics without changing the local ones
        all_reduce(total, op='sum')
        all_reduce(count, op='sum')
        value = total / count.clamp(min=1) * (count / self.age_norm)**self.age_exponent
        value[count == 0] = -math.inf
        return value

    def kept_size(self, num: int, current: int) -> int:
        """Kept samples after a condensation of ``current`` of ``num`` (official truncations)."""
        return max(int(self.floor * num), current - int(self.step * num))

    # ------------------------------------------------------------------ condensation
    def after_train_epoch(self, runner) -> None:
        """Every ``period`` epochs keep the most valuable samples, ``step`` fewer each time down to
        ``floor``."""
        self.end_epoch_statistics()
        done = runner.epoch + 1
        if done < self.begin_epoch or done % self.period != 0 or done >= runner.max_epochs:
            return
        sampler = self._sampler(runner)
        num = self.entropy_sum.numel()
        target = self.kept_size(num, len(sampler.kept_indices))
        value = self.knowledge_value()
        # stable sort: equal values keep their index order, identical on every rank
        order = torch.sort(value, descending=True, stable=True).indices
        self.kept = order[:target].sort().values
        sampler.set_kept_indices(self.kept.tolist())
        runner.logger.info(f'KCD: epoch {done}, kept {target}/{num} samples '
                           f'({100 * target / num:.1f}%)')

    # ------------------------------------------------------------------ checkpointing
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Save the kept set and the statistics."""
        checkpoint['kcd'] = dict(
            kept=None if self.kept is None else self.kept.clone(),
            entropy_sum=self.entropy_sum, count=self.count, epoch_entropy=self.epoch_entropy)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Restore the kept set and the statistics (resume, or ``load_from`` a KCD run)."""
        state = checkpoint.get('kcd')
        if state is None:
            return
        self.kept = state['kept']
        self.entropy_sum = state['entropy_sum']
        self.count = state['count']
        self.epoch_entropy = state.get('epoch_entropy')
        # the sampler receives the kept set in before_train, which follows loading; touching
        # runner.train_dataloader here would build the train loop in test runs
