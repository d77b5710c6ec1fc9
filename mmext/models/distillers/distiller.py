"""A task-agnostic knowledge-distillation wrapper for OpenMMLab 2.x models.

Used by NKD / tf-NKD (arXiv 2208.10139), ViTKD (arXiv 2209.02432) and MGD (arXiv 2205.01529).
"""
import copy
import difflib
import os.path as osp
from collections import defaultdict
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.config import Config, ConfigDict
from mmengine.logging import MessageHub
from mmengine.model import BaseModel
from mmengine.runner.checkpoint import load_checkpoint
from mmengine.utils import get_installed_path

from mmext.registry import MODELS

__all__ = ['Distiller', 'DistillItem', 'model_cfg_from']

ModulePaths = Union[str, Sequence[str]]


def model_cfg_from(cfg: Union[dict, str]) -> ConfigDict:
    """A model config given as a dict, or as the path of a full config file.

    A path may be a file (``configs/baselines/x.py``) or an installed host config
    (``mmdet::retinanet/retinanet_r50_fpn_2x_coco.py``); its ``model`` is taken, with the file's
    top-level ``data_preprocessor`` when the model has none (mmpretrain configs keep it there).
    """
    # a ConfigDict copy: mmdet / mmseg models read their train_cfg / test_cfg by attribute
    if isinstance(cfg, dict):
        return ConfigDict(copy.deepcopy(cfg))
    if not isinstance(cfg, str):
        raise TypeError(f'a model must be a config dict or a config path, got {type(cfg)}')
    path = cfg
    if '::' in cfg:
        package, rel = cfg.split('::', 1)
        path = osp.join(get_installed_path(package), '.mim', 'configs', rel)
    if not osp.isfile(path):
        raise FileNotFoundError(f'model config file not found: {cfg}')
    full = Config.fromfile(path)
    model = copy.deepcopy(full.model)
    if full.get('data_preprocessor') is not None:
        model.setdefault('data_preprocessor', copy.deepcopy(full.data_preprocessor))
    return model


def _missing_teacher_message(teacher: Union[dict, str], teacher_ckpt: str) -> str:
    """Say which command produces a missing teacher checkpoint."""
    msg = f'"teacher_ckpt" file not found: {teacher_ckpt}.'
    if isinstance(teacher, str) and '::' not in teacher:
        config = osp.relpath(osp.normpath(teacher))
        msg += (f' Train the teacher first:\n    python tools/train.py {config} --work-dir '
                f'{osp.dirname(teacher_ckpt) or "."}\nor train teacher and student in one '
                'command: python tools/train_distill.py STUDENT_CONFIG')
    return msg


def _as_paths(paths: ModulePaths) -> List[str]:
    return [paths] if isinstance(paths, str) else list(paths)


def _resolve_modules(model: nn.Module, paths: Sequence[str], role: str) -> Dict[str, nn.Module]:
    """Map module paths to modules, listing the nearest valid names for a wrong path."""
    named = dict(model.named_modules())
    resolved = {}
    for path in paths:
        if not path or path not in named:
            nearest = difflib.get_close_matches(path, [n for n in named if n], n=5, cutoff=0.3)
            raise ValueError(f'{role} module "{path}" not found in {type(model).__name__}; '
                             f'nearest valid names: {nearest}')
        resolved[path] = named[path]
    return resolved


def _shape_of(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return tuple(x.shape)
    if isinstance(x, (list, tuple)):
        return [_shape_of(v) for v in x]
    return type(x).__name__


class DistillItem(nn.Module):
    """One distillation term: which features feed which loss, and its weight schedule.

    The weight at iteration ``i`` is ``weight * warmup(i) * decay(i)``: ``warmup`` ramps
    linearly from 0 to 1 over ``warmup_iters``; ``decay`` goes linearly from 1 at ``decay_begin``
    to ``decay_end_factor`` at ``decay_end`` and stays there.

    Args:
        name (str): Log name of the term; must contain ``'loss'`` so that it is summed
            (e.g. ``'loss_mgd_fpn_0'``).
        loss (dict): Config of the loss module, e.g. ``dict(type='mmext.MGDLoss', ...)``.
        student (str | list[str]): Student module path(s) whose forward output is taken.
        teacher (str | list[str], optional): Teacher module path(s); defaults to ``student``.
            Unused by teacher-free losses.
        weight (float): Constant weight. Defaults to 1.0.
        warmup_iters (int): Linear warm-up length in iterations. Defaults to 0.
        decay_begin (int, optional): Iteration where a linear decay starts. Defaults to None.
        decay_end (int, optional): Iteration where the decay ends. Defaults to None.
        decay_end_factor (float): Weight factor reached at ``decay_end``. Defaults to 0.0.
    """

    def __init__(self,
                 name: str,
                 loss: dict,
                 student: ModulePaths,
                 teacher: Optional[ModulePaths] = None,
                 weight: float = 1.0,
                 warmup_iters: int = 0,
                 decay_begin: Optional[int] = None,
                 decay_end: Optional[int] = None,
                 decay_end_factor: float = 0.0) -> None:
        super().__init__()
        if not isinstance(name, str) or 'loss' not in name:
            raise ValueError(f'distill item "name" must contain "loss" (so it is summed), '
                             f'got {name!r}')
        if warmup_iters < 0:
            raise ValueError(f'"{name}": "warmup_iters" must be >= 0, got {warmup_iters}')
        if (decay_begin is None) != (decay_end is None):
            raise ValueError(f'"{name}": set both "decay_begin" and "decay_end" or neither')
        if decay_begin is not None and not 0 <= decay_begin < decay_end:
            raise ValueError(f'"{name}": need 0 <= decay_begin < decay_end, got '
                             f'{decay_begin}, {decay_end}')
        self.name = name
        self.student_paths = _as_paths(student)
        self.teacher_paths = _as_paths(teacher if teacher is not None else student)
        self.weight = weight
        self.warmup_iters = warmup_iters
        self.decay_begin = decay_begin
        self.decay_end = decay_end
        self.decay_end_factor = decay_end_factor
        self.loss = MODELS.build(loss)
        self.requires_teacher = getattr(self.loss, 'requires_teacher', True)
        self.requires_label = getattr(self.loss, 'requires_label', False)

    def factor(self, cur_iter: int) -> float:
        """Schedule weight at iteration ``cur_iter`` (0-based)."""
        factor = self.weight
        if self.warmup_iters > 0:
            factor *= min(1.0, (cur_iter + 1) / self.warmup_iters)
        if self.decay_begin is not None and cur_iter > self.decay_begin:
            progress = min(1.0, (cur_iter - self.decay_begin) /
                           (self.decay_end - self.decay_begin))
            factor *= 1.0 + (self.decay_end_factor - 1.0) * progress
        return factor

    @staticmethod
    def _pick(records: Dict[str, list], paths: List[str], single: bool) -> Any:
        feats = []
        for path in paths:
            outs = records.get(path, [])
            if not outs:
                raise RuntimeError(f'module "{path}" did not run in this forward pass')
            # a module called once gives its output; a shared one called k times a list
            feats.append(outs[0] if len(outs) == 1 else outs)
        return feats[0] if single else feats

    def forward(self, s_records: Dict[str, list], t_records: Dict[str, list],
                labels: Optional[torch.Tensor]) -> Dict[str, torch.Tensor]:
        """Compute the unweighted loss term(s) from recorded features."""
        single = len(self.student_paths) == 1
        s_feat = self._pick(s_records, self.student_paths, single)
        args = [s_feat]
        if self.requires_teacher:
            args.append(self._pick(t_records, self.teacher_paths, single))
        if self.requires_label:
            args.append(labels)
        try:
            out = self.loss(*args)
        except (ValueError, RuntimeError) as err:
            t_shape = _shape_of(args[1]) if self.requires_teacher else None
            raise ValueError(
                f'distill item "{self.name}" failed: student {self.student_paths} -> '
                f'{_shape_of(s_feat)}, teacher {self.teacher_paths} -> {t_shape}: {err}') from err
        if isinstance(out, dict):
            return {f'{self.name}_{k}': v for k, v in out.items()}
        return {self.name: out}


@MODELS.register_module()
class Distiller(BaseModel):
    """Wrap a student and a frozen teacher and add distillation losses to the student's own.

    A single wrapper for classification (mmpretrain), detection (mmdet) and segmentation (mmseg),
    serving NKD / tf-NKD ("Rethinking Knowledge Distillation via Cross-Entropy", arXiv
    2208.10139), ViTKD ("ViTKD: Practical Guidelines for ViT feature knowledge distillation",
    arXiv 2209.02432) and MGD ("Masked Generative Distillation", arXiv 2205.01529). Features are
    taken with forward hooks from module paths of the student and the teacher (``neck.fpn_convs.0``,
    ``backbone.layer4``, ``decode_head.conv_seg``; a classifier's ``head`` outputs its logits). In
    ``loss`` mode the student computes its own losses, the teacher runs in eval mode under
    ``no_grad`` (only up to ``extract_feat`` when every teacher path lies in the backbone or
    neck), and each distill item adds its weighted term under its own name. ``predict`` and
    ``tensor`` modes run the student only, with the student's data preprocessor. The teacher is
    kept out of ``state_dict()``, so checkpoints hold the student and the trainable distillation
    parts (connectors, generators); ``tools/model_converters/extract_student.py`` strips the latter.

    Args:
        student (dict | str): Config of the student model, e.g. an ``ImageClassifier``, or the
            path of a config file whose ``model`` is taken (``'mmdet::retinanet/x.py'`` or a
            file path).
        teacher (dict | str, optional): Config (or config path) of the teacher model. Only
            teacher-free items
            (e.g. :class:`mmext.TfNKDLoss`) may be used without it. Defaults to None.
        teacher_ckpt (str, optional): Checkpoint of the teacher, loaded at build time with
            :func:`mmengine.runner.load_checkpoint`. Required when ``teacher`` is set unless
            ``allow_untrained_teacher=True``. Defaults to None.
        distill (list[dict]): Distill items, see :class:`DistillItem`. Defaults to ``[]``.
        input_shape (tuple[int], optional): ``(C, H, W)`` of a dummy input. When given, one
            forward of student and teacher (eval, ``no_grad``) runs at build time so that a
            wrong path or a student / teacher shape mismatch raises before any training step.
            Defaults to None (checked at the first training step).
        allow_untrained_teacher (bool): Accept ``teacher_ckpt=None`` and keep the teacher's
            random weights (tests, speed benchmarks). Defaults to False.
        teacher_strict (bool): Strict key matching when loading ``teacher_ckpt``.
            Defaults to True.
        data_preprocessor (dict, optional): Used as the student's preprocessor when the student
            config has none (the runner passes the config's top-level one here). Defaults to None.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 student: Union[dict, str],
                 teacher: Optional[Union[dict, str]] = None,
                 teacher_ckpt: Optional[str] = None,
                 distill: Sequence[dict] = (),
                 input_shape: Optional[Sequence[int]] = None,
                 allow_untrained_teacher: bool = False,
                 teacher_strict: bool = True,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        student = model_cfg_from(student)
        if data_preprocessor is not None:
            # the student's own preprocessor wins; the runner-merged one only fills a gap
            student.setdefault('data_preprocessor', data_preprocessor)
        student_model = MODELS.build(student)
        super().__init__(data_preprocessor=student_model.data_preprocessor, init_cfg=init_cfg)
        self.student = student_model

        self.distill_items = nn.ModuleList(DistillItem(**cfg) for cfg in distill)
        names = [item.name for item in self.distill_items]
        if len(set(names)) != len(names):
            raise ValueError(f'distill item names must be unique, got {names}')
        needs_teacher = any(item.requires_teacher for item in self.distill_items)

        self.teacher = None
        if teacher is not None:
            self.teacher = MODELS.build(model_cfg_from(teacher))
            if teacher_ckpt is not None:
                if '://' not in teacher_ckpt and not osp.isfile(teacher_ckpt):
                    raise FileNotFoundError(_missing_teacher_message(teacher, teacher_ckpt))
                load_checkpoint(
                    self.teacher, teacher_ckpt, map_location='cpu', strict=teacher_strict)
            elif not allow_untrained_teacher:
                raise ValueError('"teacher_ckpt" is None: a distillation teacher needs weights '
                                 '(set allow_untrained_teacher=True only for tests/benchmarks)')
            self.teacher.requires_grad_(False)
            self.teacher.eval()
        elif needs_teacher:
            raise ValueError(f'items {[i.name for i in self.distill_items if i.requires_teacher]}'
                             ' need a teacher but "teacher" is None')

        # forward hooks filling per-forward records; they only record while `_recording`
        self._recording = False
        self._records: Dict[str, Dict[str, list]] = dict(student=defaultdict(list),
                                                          teacher=defaultdict(list))
        s_paths = sorted({p for item in self.distill_items for p in item.student_paths})
        t_paths = sorted({p for item in self.distill_items if item.requires_teacher
                          for p in item.teacher_paths})
        for path, module in _resolve_modules(self.student, s_paths, 'student').items():
            module.register_forward_hook(self._make_hook('student', path))
        if self.teacher is not None:
            for path, module in _resolve_modules(self.teacher, t_paths, 'teacher').items():
                module.register_forward_hook(self._make_hook('teacher', path))
        # the teacher only needs to run up to its neck when no path lies in its heads
        self._teacher_feat_only = bool(t_paths) and all(
            p.split('.')[0] in ('backbone', 'neck') for p in t_paths) and hasattr(
                self.teacher, 'extract_feat')

        self._register_state_dict_hook(Distiller._drop_teacher_state)
        self._register_load_state_dict_pre_hook(self._fill_teacher_state, with_module=True)

        if input_shape is not None:
            self._check_with_dummy_input(tuple(input_shape))

    # ------------------------------------------------------------------ hooks and state dict
    def _make_hook(self, role: str, path: str):

        def hook(module: nn.Module, inputs: Any, output: Any) -> None:
            if self._recording:
                self._records[role][path].append(output)

        return hook

    @staticmethod
    def _drop_teacher_state(module: nn.Module, state_dict: dict, prefix: str,
                            local_metadata: dict) -> None:
        for key in [k for k in state_dict if k.startswith(prefix + 'teacher.')]:
            del state_dict[key]

    @staticmethod
    def _fill_teacher_state(module: 'Distiller', state_dict: dict, prefix: str, *args) -> None:
        # Checkpoints carry no teacher: feed the teacher its own tensors so that loading
        # (strict or not, resume or load_from) neither complains nor touches it.
        if module.teacher is None:
            return
        for key, value in module.teacher.state_dict().items():
            state_dict.setdefault(f'{prefix}teacher.{key}', value)

    # ------------------------------------------------------------------ mode handling
    def train(self, mode: bool = True) -> 'Distiller':
        """Set the train mode of the student and distill parts; the teacher stays in eval."""
        super().train(mode)
        if self.teacher is not None:
            self.teacher.eval()
        return self

    def init_weights(self) -> None:
        """Initialize student and distill parts; never re-initialize the loaded teacher."""
        self.student.init_weights()
        for item in self.distill_items:
            # plain nn.Module connectors keep their PyTorch default initialization
            if hasattr(item.loss, 'init_weights'):
                item.loss.init_weights()

    # ------------------------------------------------------------------ forward
    def _run_recorded(self, fn, role: str) -> Tuple[Any, Dict[str, list]]:
        self._records[role] = defaultdict(list)
        self._recording = True
        try:
            out = fn()
        finally:
            self._recording = False
        records, self._records[role] = self._records[role], defaultdict(list)
        return out, records

    def _teacher_records(self, inputs: torch.Tensor) -> Dict[str, list]:
        if self.teacher is None or not any(i.requires_teacher for i in self.distill_items):
            return {}
        self.teacher.eval()
        with torch.no_grad():
            fn = ((lambda: self.teacher.extract_feat(inputs)) if self._teacher_feat_only else
                  (lambda: self.teacher(inputs, mode='tensor')))
            return self._run_recorded(fn, 'teacher')[1]

    @staticmethod
    def _labels(data_samples: Optional[list]) -> Optional[torch.Tensor]:
        """Classification labels ``(N,)`` or soft scores ``(N, C)`` from data samples."""
        if not data_samples:
            return None
        first = data_samples[0]
        if 'gt_score' in first:
            return torch.stack([ds.gt_score for ds in data_samples])
        if 'gt_label' in first:
            return torch.cat([ds.gt_label.reshape(-1) for ds in data_samples])
        return None

    def _distill_losses(self, s_records, t_records, labels) -> Dict[str, torch.Tensor]:
        cur_iter = MessageHub.get_current_instance().get_info('iter', 0)
        losses = {}
        for item in self.distill_items:
            if item.requires_label and labels is None:
                raise ValueError(f'"{item.name}" needs classification labels (gt_label / '
                                 'gt_score) in the data samples')
            factor = item.factor(cur_iter)
            for name, value in item(s_records, t_records, labels).items():
                losses[name] = value * factor
        return losses

    def loss(self, inputs: torch.Tensor, data_samples: Optional[list] = None) -> dict:
        """Student losses plus the weighted distillation terms."""
        t_records = self._teacher_records(inputs)
        s_losses, s_records = self._run_recorded(
            lambda: self.student.loss(inputs, data_samples), 'student')
        d_losses = self._distill_losses(s_records, t_records, self._labels(data_samples))
        clash = set(s_losses) & set(d_losses)
        if clash:
            raise ValueError(f'distill item names {sorted(clash)} clash with student losses')
        s_losses.update(d_losses)
        return s_losses

    def parse_losses(self, losses: Dict[str, torch.Tensor]) -> Tuple[torch.Tensor, dict]:
        """Sum every term as mmengine does, logging the total as ``loss`` and each term.

        mmpretrain heads name their cross-entropy ``loss``, the name mmengine gives the total:
        the student's term would overwrite the total in the logs (and the README curves would
        show cross-entropy only). It is logged as ``loss_student`` instead.
        """
        renamed = {('loss_student' if key == 'loss' else key): value
                   for key, value in losses.items()}
        return super().parse_losses(renamed)

    def forward(self, inputs: torch.Tensor, data_samples: Optional[list] = None,
                mode: str = 'tensor'):
        """``loss`` adds distillation; ``predict`` and ``tensor`` run the student only."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode in ('predict', 'tensor'):
            return self.student(inputs, data_samples, mode=mode)
        raise RuntimeError(f'Invalid mode "{mode}". Only supports loss, predict and tensor mode')

    # ------------------------------------------------------------------ build-time check
    @torch.no_grad()
    def _check_with_dummy_input(self, input_shape: Tuple[int, ...]) -> None:
        """One eval-mode forward of both models on zeros to validate paths and shapes."""
        if len(input_shape) != 3:
            raise ValueError(f'"input_shape" must be (C, H, W), got {input_shape}')
        param = next(self.student.parameters(), None)
        device = param.device if param is not None else torch.device('cpu')
        dummy = torch.randn(1, *input_shape, device=device)
        was_training = self.student.training
        self.student.eval()
        try:
            s_fn = ((lambda: self.student.extract_feat(dummy))
                    if all(p.split('.')[0] in ('backbone', 'neck')
                           for item in self.distill_items for p in item.student_paths)
                    and hasattr(self.student, 'extract_feat') else
                    (lambda: self.student(dummy, mode='tensor')))
            _, s_records = self._run_recorded(s_fn, 'student')
            t_records = self._teacher_records(dummy)
            for item in self.distill_items:
                labels = torch.zeros(1, dtype=torch.long, device=device)
                item(s_records, t_records, labels)
        finally:
            self.student.train(was_training)
