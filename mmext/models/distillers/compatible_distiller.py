"""The frozen-old-model wrapper of compatible model upgrades (RACT, arXiv 2201.09724; BCT,
arXiv 2003.11942; BiCT, arXiv 2204.13919), built on :class:`mmext.Distiller`."""
from typing import List, Optional, Sequence

import torch

from mmext.registry import MODELS
from ..losses.ract import embedding_of
from .distiller import Distiller, _resolve_modules

__all__ = ['CompatibleDistiller']


def _run_capturing(model: torch.nn.Module, path: str, run):
    """Run ``run()``; return its result and the output of module ``path`` as ``(N, D)``."""
    captured = []
    handle = dict(model.named_modules())[path].register_forward_hook(
        lambda module, args, output: captured.append(output))
    try:
        result = run()
    finally:
        handle.remove()
    return result, embedding_of(captured[-1])


@MODELS.register_module()
class CompatibleDistiller(Distiller):
    """Train a new model compatibly with a frozen old one, and evaluate both for retrieval.

    For backward-compatible model upgrades of retrieval systems ("Hot-Refresh Model Upgrades
    with Regression-Alleviating Compatible Training in Image Retrieval", arXiv 2201.09724;
    "Towards Backward-Compatible Representation Learning", arXiv 2003.11942; "Privacy-Preserving
    Model Upgrades with Bidirectional Compatible Training in Image Retrieval", arXiv 2204.13919).
    The old model is the :class:`mmext.Distiller` teacher: loaded from ``teacher_ckpt``, frozen,
    in eval mode and absent from the saved checkpoint; the compatibility losses are distill items
    (:class:`mmext.RACTLoss` on the new / old embeddings, :class:`mmext.BCTLoss` with the old
    classifier, which this wrapper binds to the loss at build time). With no distill items the
    new model trains alone (the "independent" upgrade) and is still evaluated against the old
    one.

    ``predict`` runs the new model as usual and adds two fields to each data sample: the new
    embedding ``embedding`` and the old model's embedding of the same image ``old_embedding``
    (``extract_feat``, last output, averaged over space if 4-D), which
    :class:`mmext.QueryGalleryMAP` reads for old-old, new-old and new-new retrieval. When
    the embedding is a layer after the neck (e.g. the 512-d projection of the GLDv2 models),
    ``embedding`` names it and its output is taken instead.

    Args:
        *args: As :class:`mmext.Distiller` (``student`` = the new model, ``teacher`` = the old
            model, ``teacher_ckpt`` its checkpoint, ``distill`` the compatibility losses).
        embedding (str, optional): Module path (in both models) whose output is the embedding
            at test time. Defaults to None (``extract_feat``'s last output).
        **kwargs: As :class:`mmext.Distiller`.
    """

    def __init__(self, *args, embedding: Optional[str] = None,
                 input_shape: Optional[Sequence[int]] = None, **kwargs) -> None:
        # the dummy forward check waits until the old classifier is bound to the losses
        super().__init__(*args, **kwargs)
        if self.teacher is None:
            raise ValueError('CompatibleDistiller needs the old model: set "teacher" (and '
                             '"teacher_ckpt")')
        if embedding is not None:
            _resolve_modules(self.student, [embedding], 'student "embedding"')
            _resolve_modules(self.teacher, [embedding], 'teacher "embedding"')
        self.embedding = embedding
        for item in self.distill_items:
            if hasattr(item.loss, 'bind_old_model'):
                item.loss.bind_old_model(self.teacher)
        if input_shape is not None:
            self._check_with_dummy_input(tuple(input_shape))

    @torch.no_grad()
    def predict(self, inputs: torch.Tensor, data_samples: Optional[list] = None) -> List:
        """New-model predictions with ``embedding`` (new) and ``old_embedding`` (old) set."""
        student, teacher = self.student, self.teacher
        teacher.eval()
        if self.embedding is None:
            feats = student.extract_feat(inputs)
            results = student.head.predict(feats, data_samples)
            new, old = embedding_of(feats), embedding_of(teacher.extract_feat(inputs))
        else:
            results, new = _run_capturing(
                student, self.embedding, lambda: student(inputs, data_samples, mode='predict'))
            _, old = _run_capturing(teacher, self.embedding,
                                    lambda: teacher(inputs, mode='tensor'))
        for sample, new_emb, old_emb in zip(results, new, old):
            sample.set_field(new_emb, 'embedding')
            sample.set_field(old_emb, 'old_embedding')
        return results

    def forward(self, inputs: torch.Tensor, data_samples: Optional[list] = None,
                mode: str = 'tensor'):
        """``loss`` adds the compatibility terms; ``predict`` adds both embeddings."""
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        return super().forward(inputs, data_samples, mode)
