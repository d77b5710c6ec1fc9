"""CDTrans: Cross-domain Transformer for Unsupervised Domain Adaptation (arXiv 2109.06165)."""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn.bricks.transformer import FFN
from mmpretrain.models.backbones import VisionTransformer
from mmpretrain.models.classifiers import ImageClassifier
from mmpretrain.models.utils import ClsDataPreprocessor, MultiheadAttention, resize_pos_embed
from mmpretrain.structures import DataSample
from torch import Tensor

from mmext.registry import MODELS

__all__ = ['CDTrans', 'BNNeck', 'SourceTargetDataPreprocessor', 'cdtrans_distill_loss']

TARGET_DOMAIN = 'target'


@MODELS.register_module()
class BNNeck(nn.Module):
    """BatchNorm1d "bottleneck" between the class token and the classifier.

    The neck of the official CDTrans code (inherited from TransReID): a ``BatchNorm1d`` whose
    bias is frozen at 0 (only the scale is learnt), applied to the class token before the
    classifier, from "CDTrans: Cross-domain Transformer for Unsupervised Domain Adaptation"
    (Xu et al., ICLR 2022, arXiv 2109.06165). Its output is also the feature the pair selection
    compares (the official ``TEST.NECK_FEAT='after'``).

    Args:
        in_channels (int): Feature width.
        freeze_bias (bool): Keep the bias at 0 (official). Defaults to True.
    """

    def __init__(self, in_channels: int, freeze_bias: bool = True) -> None:
        super().__init__()
        if in_channels < 1:
            raise ValueError(f'"in_channels" must be >= 1, got {in_channels}')
        self.bn = nn.BatchNorm1d(in_channels)
        nn.init.ones_(self.bn.weight)
        nn.init.zeros_(self.bn.bias)
        if freeze_bias:
            self.bn.bias.requires_grad_(False)

    def forward(self, inputs: Sequence[Tensor]) -> Tuple[Tensor, ...]:
        """Normalise the last feature of ``inputs`` ((B, C) each); returns a 1-tuple."""
        return (self.bn(inputs[-1]), )


@MODELS.register_module()
class SourceTargetDataPreprocessor(ClsDataPreprocessor):
    """mmpretrain ``ClsDataPreprocessor`` for the source-target pair batches of CDTrans.

    A batch of :class:`mmext.SourceTargetPairDataset` holds ``inputs`` / ``data_samples`` (the
    labelled source images) and ``target_inputs`` / ``target_data_samples`` (their paired target
    images, labelled with pseudo-labels). They are concatenated, source half first, and
    normalised together, so the classifier receives one ``(2B, C, H, W)`` batch. Plain batches
    (validation, test, the pair-selection passes) pass through unchanged. Arguments are those of
    ``ClsDataPreprocessor`` (mean, std, to_rgb, ...), from "CDTrans: Cross-domain Transformer for
    Unsupervised Domain Adaptation" (arXiv 2109.06165).
    """

    def forward(self, data: dict, training: bool = False) -> dict:
        if 'target_inputs' in data:
            data = dict(
                inputs=list(data['inputs']) + list(data['target_inputs']),
                data_samples=list(data['data_samples']) + list(data['target_data_samples']))
        return super().forward(data, training)


def cdtrans_distill_loss(teacher_logits: Tensor, student_logits: Tensor) -> Tensor:
    """Soft cross-entropy of the student against the teacher's softmax, batch mean.

    ``mean_b sum_c -softmax(teacher)_bc * log_softmax(student)_bc`` (temperature 1), the
    official ``distill_loss``: the cross-attention branch teaches the target branch.
    """
    teacher = F.softmax(teacher_logits.float(), dim=-1)
    return -(teacher * F.log_softmax(student_logits.float(), dim=-1)).sum(dim=-1).mean()


@MODELS.register_module()
class CDTrans(ImageClassifier):
    """Weight-sharing three-branch ViT of CDTrans.

    From "CDTrans: Cross-domain Transformer for Unsupervised Domain Adaptation" (Xu et al.,
    ICLR 2022, arXiv 2109.06165). Every transformer layer (all weights shared) is run on three
    token streams: the source images (self-attention), the target images (self-attention) and a
    source-target stream that starts from the target embeddings and is updated in *every* layer
    by cross-attention whose queries come from the (normalised) source tokens and whose keys and
    values come from the target tokens of that layer, followed by the layer's MLP, as in the
    official ``Block_3_branches``. The class tokens of the three streams go through the shared
    neck (:class:`BNNeck`, batch statistics per stream) and head. Training loss (official
    weights 1 / 1 / 1)::

        source_weight * CE(source logits, source labels)
        + target_weight * CE(target logits, target pseudo-labels)
        + distill_weight * soft-CE(target logits <- softmax(cross logits))

    Training batches are source-target pairs (:class:`mmext.SourceTargetPairDataset` chosen by
    :class:`mmext.CDTransPairHook`); prediction uses the target (plain ViT) path only, as the
    official inference.

    Args:
        backbone (dict): mmpretrain ``VisionTransformer`` config with ``out_type='cls_token'``,
            a class token and only the last layer in ``out_indices``.
        head (dict): Classification head (e.g. ``LinearClsHead``); its loss is used for the
            source and target terms (plain cross-entropy in the official adaptation stage).
        neck (dict | str, optional): The neck config; ``'default'`` builds
            ``dict(type='mmext.BNNeck', in_channels=C)`` with C the backbone width (official);
            None feeds the class token to the head directly. Defaults to ``'default'``.
        source_weight (float): Weight of the source classification loss. Defaults to 1.0.
        target_weight (float): Weight of the target pseudo-label loss. Defaults to 1.0.
        distill_weight (float): Weight of the cross-to-target distillation. Defaults to 1.0.
        detach_teacher (bool): Stop the gradient through the teacher (cross-attention) logits
            of the distillation. The official code does not. Defaults to False.
        data_preprocessor (dict, optional): Must be (or default to)
            :class:`SourceTargetDataPreprocessor`; extra keys (mean, std, ...) as usual.
        **kwargs: Other arguments of ``ImageClassifier`` (train_cfg, init_cfg, pretrained).
    """

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 neck: Union[str, dict, None] = 'default',
                 source_weight: float = 1.0,
                 target_weight: float = 1.0,
                 distill_weight: float = 1.0,
                 detach_teacher: bool = False,
                 data_preprocessor: Optional[dict] = None,
                 **kwargs) -> None:
        for key, value in (('source_weight', source_weight), ('target_weight', target_weight),
                           ('distill_weight', distill_weight)):
            if value < 0:
                raise ValueError(f'"{key}" must be >= 0, got {value}')
        train_cfg = kwargs.get('train_cfg') or {}
        if 'augments' in train_cfg:
            raise ValueError('CDTrans does not support "train_cfg.augments": batch mixing would '
                             'mix source and target images')
        data_preprocessor = dict(data_preprocessor or {})
        data_preprocessor.setdefault('type', 'mmext.SourceTargetDataPreprocessor')
        if neck == 'default':
            neck = dict(type='mmext.BNNeck', in_channels=_vit_width(backbone))
        super().__init__(backbone=backbone, neck=neck, head=head,
                         data_preprocessor=data_preprocessor, **kwargs)
        if not isinstance(self.data_preprocessor, SourceTargetDataPreprocessor):
            raise ValueError('"data_preprocessor" of CDTrans must be '
                             'mmext.SourceTargetDataPreprocessor (the default), got '
                             f'{type(self.data_preprocessor).__name__}')
        _check_vit(self.backbone)
        self.source_weight = source_weight
        self.target_weight = target_weight
        self.distill_weight = distill_weight
        self.detach_teacher = detach_teacher

    # ------------------------------------------------------------------ three branches
    def _embed(self, x: Tensor) -> Tensor:
        """Tokens entering the first layer, (B, 1 + N, C): the stem of VisionTransformer."""
        vit = self.backbone
        B = x.shape[0]
        x, hw = vit.patch_embed(x)
        x = torch.cat((vit.cls_token.expand(B, -1, -1), x), dim=1)
        x = x + resize_pos_embed(vit.pos_embed, vit.patch_resolution, hw,
                                 mode=vit.interpolate_mode, num_extra_tokens=vit.num_extra_tokens)
        return vit.pre_norm(vit.drop_after_pos(x))

    @staticmethod
    def three_branch_layer(layer: nn.Module, tokens: Tensor) -> Tensor:
        """One shared layer on the stacked streams ``[source; target; cross]``.

        Args:
            layer (TransformerEncoderLayer): mmpretrain ViT layer (its weights serve all three).
            tokens (Tensor): (3B, L, C), source, target and source-target streams stacked.

        Returns:
            Tensor: (3B, L, C) updated streams.
        """
        attn = layer.attn
        B3, L, C = tokens.shape
        B = B3 // 3
        h = layer.ln1(tokens[:2 * B])
        # (2B, L, 3C) -> (3, 2B, heads, L, C // heads)
        qkv = attn.qkv(h).reshape(2 * B, L, 3, attn.num_heads, attn.head_dims)
        qkv = qkv.permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        drop = attn.attn_drop if layer.training else 0.
        self_out = attn.scaled_dot_product_attention(q, k, v, dropout_p=drop)
        # cross-attention: source queries attend to the target keys / values of this layer
        cross_out = attn.scaled_dot_product_attention(q[:B], k[B:], v[B:], dropout_p=drop)
        # (3B, heads, L, C // heads) -> (3B, L, C)
        out = torch.cat([self_out, cross_out]).transpose(1, 2).reshape(B3, L, C)
        out = attn.out_drop(attn.gamma1(attn.proj_drop(attn.proj(out))))
        tokens = tokens + out
        return layer.ffn(layer.ln2(tokens), identity=tokens)

    def three_branch_features(self, source: Tensor,
                              target: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Class tokens of the source, target and source-target (cross) streams.

        Args:
            source (Tensor): Source images (B, C, H, W).
            target (Tensor): Paired target images (B, C, H, W).

        Returns:
            tuple[Tensor]: Three (B, C) class tokens after the backbone's final norm.
        """
        if source.shape != target.shape:
            raise ValueError(f'source and target batches differ in shape: {tuple(source.shape)} '
                             f'vs {tuple(target.shape)}')
        vit = self.backbone
        B = source.size(0)
        x = self._embed(torch.cat([source, target]))
        # the cross stream starts from the target embeddings (official x1_x2_fusion = x2)
        tokens = torch.cat([x, x[B:]])
        for layer in vit.layers:
            tokens = self.three_branch_layer(layer, tokens)
        if vit.final_norm:
            tokens = vit.ln1(tokens)
        cls = tokens[:, 0]
        return cls[:B], cls[B:2 * B], cls[2 * B:]

    def _logits(self, cls_token: Tensor) -> Tensor:
        feats = (cls_token, )
        if self.with_neck:
            feats = self.neck(feats)
        return self.head(feats)

    def loss(self, inputs: Tensor, data_samples: List[DataSample]) -> dict:
        """CDTrans losses on a source-target pair batch.

        Args:
            inputs (Tensor): (2B, C, H, W), source images then their paired target images.
            data_samples (list[DataSample]): 2B samples; the target half carries the metainfo
                ``domain='target'`` and the pseudo-label as ``gt_label``.

        Returns:
            dict[str, Tensor]: ``loss_source``, ``loss_target``, ``loss_distill``.
        """
        is_target = [s.metainfo.get('domain') == TARGET_DOMAIN for s in data_samples]
        B = len(data_samples) // 2
        if len(data_samples) % 2 or is_target != [False] * B + [True] * B:
            raise ValueError('CDTrans.loss needs source-target pair batches (source half, then '
                             'target half marked domain="target"): train with '
                             'mmext.SourceTargetPairDataset and mmext.CDTransPairHook')
        fs, ft, fx = self.three_branch_features(inputs[:B], inputs[B:])
        # the neck runs per stream, so each BatchNorm sees one domain's statistics (official)
        s_logits, t_logits, x_logits = self._logits(fs), self._logits(ft), self._logits(fx)
        loss_source = self.head._get_loss(s_logits, data_samples[:B])['loss']
        loss_target = self.head._get_loss(t_logits, data_samples[B:])['loss']
        teacher = x_logits.detach() if self.detach_teacher else x_logits
        return dict(
            loss_source=self.source_weight * loss_source,
            loss_target=self.target_weight * loss_target,
            loss_distill=self.distill_weight * cdtrans_distill_loss(teacher, t_logits))


def _vit_width(backbone: dict) -> int:
    arch = backbone.get('arch', 'base')
    if isinstance(arch, dict):
        return arch['embed_dims']
    zoo = VisionTransformer.arch_zoo
    if arch.lower() not in zoo:
        raise ValueError(f'unknown VisionTransformer "backbone.arch" {arch!r}')
    return zoo[arch.lower()]['embed_dims']


def _check_vit(vit: nn.Module) -> None:
    if not isinstance(vit, VisionTransformer) or type(vit).forward is not VisionTransformer.forward:
        raise ValueError('"backbone" of CDTrans must be an mmpretrain VisionTransformer, got '
                         f'{type(vit).__name__}')
    if vit.out_type != 'cls_token' or vit.cls_token is None:
        raise ValueError('"backbone.out_type" must be "cls_token" (with a class token), got '
                         f'{vit.out_type!r}')
    if list(vit.out_indices) != [vit.num_layers - 1]:
        raise ValueError(f'"backbone.out_indices" must be the last layer only, got '
                         f'{vit.out_indices}')
    for i, layer in enumerate(vit.layers):
        attn = layer.attn
        if (not isinstance(attn, MultiheadAttention) or attn.v_shortcut
                or attn.input_dims != attn.embed_dims or not isinstance(layer.ffn, FFN)
                or not layer.ffn.add_identity):
            raise ValueError(f'backbone layer {i}: CDTrans needs plain MultiheadAttention (no '
                             'v_shortcut) and the "origin" FFN of mmpretrain ViT layers')
