"""SMMix: Self-Motivated Image Mixing for Vision Transformers (arXiv 2212.12977)."""
import random
from typing import Dict, List, Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.classifiers import ImageClassifier
from mmpretrain.models.utils.batch_augments import RandomBatchAugment
from mmpretrain.structures import DataSample
from torch import Tensor

from mmext.registry import BATCH_AUGMENTS, MODELS

__all__ = ['SMMixClassifier', 'PatchCutMix']


def square_region_sizes(side: int, min_side_ratio: float, max_side_ratio: float) -> List[int]:
    """Side lengths (in tokens) of the square mixing regions, as in the official SMMix code.

    Args:
        side (int): Side of the token grid.
        min_side_ratio (float): Smallest region side as a fraction of ``side``.
        max_side_ratio (float): Largest region side as a fraction of ``side``.

    Returns:
        list[int]: ``int(side * min_side_ratio)`` ... ``int(side * max_side_ratio)``.
    """
    if not 0 < min_side_ratio <= max_side_ratio <= 1:
        raise ValueError('need 0 < "min_side_ratio" <= "max_side_ratio" <= 1, got '
                         f'{min_side_ratio} and {max_side_ratio}')
    lo, hi = int(side * min_side_ratio), int(side * max_side_ratio)
    if lo < 1:
        raise ValueError(f'"min_side_ratio" {min_side_ratio} gives a region side of 0 tokens on a '
                         f'{side}x{side} token grid')
    return list(range(lo, hi + 1))


def region_token_indices(side: int, size: int, device: torch.device) -> Tensor:
    """Token indices of every ``size x size`` window of a ``side x side`` grid.

    Returns:
        Tensor: (num_windows, size * size), windows in row-major order of their top-left corner
        (the order of ``F.unfold`` with stride 1).
    """
    grid = torch.arange(side * side, device=device, dtype=torch.float).view(1, 1, side, side)
    # (1, size * size, num_windows) -> (num_windows, size * size)
    return F.unfold(grid, size).squeeze(0).t().round().long()


def paste_tokens(inputs: Tensor, patch_size: int, target_idx: Tensor,
                 source_idx: Tensor) -> Tensor:
    """Paste patches of the flipped batch into each image (both regions patch-aligned).

    Image ``b`` receives, at its token positions ``target_idx[b]``, the patches of image
    ``B - 1 - b`` taken at that image's positions ``source_idx[B - 1 - b]``.

    Args:
        inputs (Tensor): Images (B, C, H, W), H and W multiples of ``patch_size``.
        patch_size (int): Pixel side of a token.
        target_idx (Tensor): (B, R) token indices replaced in each image.
        source_idx (Tensor): (B, R) token indices each image gives to its partner.

    Returns:
        Tensor: Mixed images (B, C, H, W).
    """
    H, W = inputs.shape[-2:]
    # (B, C, H, W) -> (B, N, C * p * p)
    patches = F.unfold(inputs, patch_size, stride=patch_size).transpose(1, 2)
    mixed = patches.clone()
    rows = torch.arange(inputs.size(0), device=inputs.device)[:, None]
    mixed[rows, target_idx] = patches.flip(0)[rows, source_idx.flip(0)]
    return F.fold(mixed.transpose(1, 2), (H, W), patch_size, stride=patch_size)


def _soft_cross_entropy(logits: Tensor, target: Tensor) -> Tensor:
    """Mean cross-entropy with a soft target; log-softmax keeps it AMP-safe."""
    return -(target * F.log_softmax(logits.float(), dim=-1)).sum(dim=-1).mean()


def _smooth(one_hot: Tensor, smoothing: float) -> Tensor:
    """Label smoothing of one-hot / mixed targets (timm ``mixup_target`` convention)."""
    return one_hot * (1. - smoothing) + smoothing / one_hot.size(-1)


@BATCH_AUGMENTS.register_module()
class PatchCutMix:
    """CutMix with square, token-aligned regions at random positions.

    The attention-free counterpart of the max-min region mixing of SMMix ("SMMix:
    Self-Motivated Image Mixing for Vision Transformers", Chen et al., ICCV 2023,
    arXiv 2212.12977): a square of ``r x r`` tokens, ``r`` drawn uniformly from the same
    side range as SMMix, is cut at a random token position of the partner image (the reversed
    batch) and pasted at a random token position of each image; the label is mixed by area. It
    isolates what SMMix's attention-guided positions and self-motivated supervision add over a
    plain token-aligned CutMix. Usable in ``model.train_cfg.augments`` as
    ``dict(type='mmext.PatchCutMix', ...)``.

    Args:
        patch_size (int): Pixel side of a ViT token. Defaults to 16.
        min_side_ratio (float): Smallest region side as a fraction of the token grid side.
            Defaults to 0.25.
        max_side_ratio (float): Largest region side as a fraction of the grid side.
            Defaults to 0.75.
    """

    def __init__(self,
                 patch_size: int = 16,
                 min_side_ratio: float = 0.25,
                 max_side_ratio: float = 0.75) -> None:
        if patch_size < 1:
            raise ValueError(f'"patch_size" must be >= 1, got {patch_size}')
        if not 0 < min_side_ratio <= max_side_ratio <= 1:
            raise ValueError('need 0 < "min_side_ratio" <= "max_side_ratio" <= 1, got '
                             f'{min_side_ratio} and {max_side_ratio}')
        self.patch_size = patch_size
        self.min_side_ratio = min_side_ratio
        self.max_side_ratio = max_side_ratio

    def __call__(self, batch_inputs: Tensor, batch_score: Tensor) -> Tuple[Tensor, Tensor]:
        """Mix a batch.

        Args:
            batch_inputs (Tensor): Images (B, C, H, W).
            batch_score (Tensor): One-hot / soft labels (B, num_classes).

        Returns:
            tuple[Tensor, Tensor]: Mixed images and labels.
        """
        H, W = batch_inputs.shape[-2:]
        if H != W or H % self.patch_size:
            raise ValueError(f'PatchCutMix needs square inputs divisible by "patch_size" '
                             f'{self.patch_size}, got {H}x{W}')
        side = H // self.patch_size
        size = random.choice(square_region_sizes(side, self.min_side_ratio,
                                                 self.max_side_ratio))
        windows = region_token_indices(side, size, batch_inputs.device)
        B = batch_inputs.size(0)
        target_idx = windows[torch.randint(len(windows), (B, ), device=windows.device)]
        source_idx = windows[torch.randint(len(windows), (B, ), device=windows.device)]
        mixed = paste_tokens(batch_inputs, self.patch_size, target_idx, source_idx)
        lam = 1. - size * size / (side * side)
        batch_score = batch_score.float()
        return mixed, lam * batch_score + (1. - lam) * batch_score.flip(0)


@MODELS.register_module()
class SMMixClassifier(ImageClassifier):
    """ViT classifier trained with SMMix.

    From "SMMix: Self-Motivated Image Mixing for Vision Transformers" (Chen et al., ICCV 2023,
    arXiv 2212.12977). With probability ``smmix_prob`` a training batch is mixed by the model
    itself: an eval-mode, no-grad forward gives the un-mixed predictions and the last-layer
    attention each patch receives; for a random square size, the max-attention region of the
    partner image (reversed batch) replaces the min-attention region of each image. The loss adds
    to the usual area-mixed label loss (i) a fine-grained loss: the mean output token of each
    image's region is classified by a separate ``token_head`` against that region's own label,
    and (ii) a consistency KL between the mixed-image prediction and the area-weighted mixture
    of the two un-mixed predictions. Other batches use ``mix_augments`` (Mixup in the paper).

    Settings follow the official code (ChenMnZ/SMMix): ``smmix_prob=0.5`` (its
    ``switch_prob``), side ratios 0.25-0.75, Mixup ``alpha=0.8`` for the other batches, label
    smoothing 0.1 (for the token losses here; the head's loss smooths its own target).

    The last-layer attention is read with a forward hook on the backbone's last
    ``layers[-1].attn`` (mmpretrain ``MultiheadAttention``, which fuses the softmax into
    ``scaled_dot_product_attention``): the hook keeps its input and the map is recomputed from
    ``attn.qkv`` only when mixing needs it, so mmpretrain's ViT is used unchanged.

    Args:
        backbone (dict): mmpretrain ``VisionTransformer`` config; must use ``out_type='raw'``
            and a class token (the classifier splits class and patch tokens itself).
        head (dict): Classification head on the class token (e.g. ``VisionTransformerClsHead``).
        smmix_prob (float): Probability that a batch uses SMMix. Defaults to 0.5.
        min_side_ratio (float): Smallest region side / token grid side. Defaults to 0.25.
        max_side_ratio (float): Largest region side / token grid side. Defaults to 0.75.
        label_smoothing (float): Smoothing of the token-loss targets. Defaults to 0.1.
        fine_weight (float): Weight of the fine-grained token loss. Defaults to 1.0.
        consistency_weight (float): Weight of the consistency KL loss. Defaults to 1.0.
        mix_augments (dict | list, optional): mmpretrain batch augments (as in
            ``train_cfg.augments``) for the non-SMMix batches; None leaves them un-mixed.
            Defaults to ``dict(type='Mixup', alpha=0.8)``.
        neck (dict, optional): Must be None.
        train_cfg (dict, optional): Must not contain ``augments``: they would mix the batch in
            the data preprocessor before SMMix sees it; use ``mix_augments``.
        **kwargs: Other arguments of :class:`mmpretrain.models.ImageClassifier`
            (``data_preprocessor``, ``init_cfg``, ``pretrained``).
    """

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 smmix_prob: float = 0.5,
                 min_side_ratio: float = 0.25,
                 max_side_ratio: float = 0.75,
                 label_smoothing: float = 0.1,
                 fine_weight: float = 1.0,
                 consistency_weight: float = 1.0,
                 mix_augments: Optional[Union[dict, list]] = dict(type='Mixup', alpha=0.8),
                 neck: Optional[dict] = None,
                 train_cfg: Optional[dict] = None,
                 **kwargs) -> None:
        if neck is not None:
            raise ValueError('SMMixClassifier takes no "neck": the class and patch tokens of '
                             'the backbone are used directly')
        if train_cfg is not None and 'augments' in train_cfg:
            raise ValueError('"train_cfg.augments" would mix images before SMMix; put them in '
                             '"mix_augments" of SMMixClassifier')
        if not 0 <= smmix_prob <= 1:
            raise ValueError(f'"smmix_prob" must be in [0, 1], got {smmix_prob}')
        if not 0 <= label_smoothing < 1:
            raise ValueError(f'"label_smoothing" must be in [0, 1), got {label_smoothing}')
        super().__init__(backbone=backbone, head=head, neck=None, train_cfg=train_cfg, **kwargs)
        vit = self.backbone
        if getattr(vit, 'out_type', None) != 'raw' or getattr(vit, 'num_extra_tokens', 0) != 1:
            raise ValueError('"backbone" must be a VisionTransformer with out_type="raw" and a '
                             'class token (with_cls_token=True)')
        attn = vit.layers[-1].attn
        if not (hasattr(attn, 'qkv') and hasattr(attn, 'num_heads')):
            raise ValueError('the last backbone layer must have an mmpretrain MultiheadAttention '
                             '"attn" (with "qkv" and "num_heads")')
        grid_h, grid_w = vit.patch_resolution
        if grid_h != grid_w:
            raise ValueError(f'SMMix needs a square token grid, got {grid_h}x{grid_w}')
        self.side = grid_h
        self.patch_size = vit.patch_embed.projection.kernel_size[0]
        self.region_sizes = square_region_sizes(self.side, min_side_ratio, max_side_ratio)
        self.smmix_prob = smmix_prob
        self.label_smoothing = label_smoothing
        self.fine_weight = fine_weight
        self.consistency_weight = consistency_weight
        self.mix_augments = (RandomBatchAugment(mix_augments)
                             if mix_augments is not None else None)
        self.num_classes = self.head.num_classes
        self.token_head = nn.Linear(vit.embed_dims, self.num_classes)
        self._last_attn_input: Optional[Tensor] = None
        self._capture_attn = False
        attn.register_forward_hook(self._keep_attn_input)

    def _keep_attn_input(self, module: nn.Module, args: tuple, output: Tensor) -> None:
        if self._capture_attn:
            self._last_attn_input = args[0].detach()

    def _patch_attention(self) -> Tensor:
        """Attention each patch receives from the patches in the last layer, (B, N)."""
        attn = self.backbone.layers[-1].attn
        x = self._last_attn_input
        B, L, _ = x.shape
        # (B, L, 3C) -> (3, B, heads, L, C // heads)
        qkv = attn.qkv(x).reshape(B, L, 3, attn.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k = qkv[0], qkv[1]
        # mmpretrain's MultiheadAttention always scales by head_dims ** -0.5
        scores = (q @ k.transpose(-2, -1)) * (q.size(-1)**-0.5)
        probs = scores.float().softmax(dim=-1)
        # mean over heads and patch queries of the weight on each patch key (drop class token)
        return probs[:, :, 1:, 1:].mean(dim=(1, 2))

    def _tokens(self, inputs: Tensor) -> Tuple[Tensor, Tensor]:
        """Class token (B, C) and patch tokens (B, N, C) of the last backbone output."""
        tokens = self.backbone(inputs)[-1]
        return tokens[:, 0], tokens[:, 1:]

    def extract_feat(self, inputs: Tensor, stage: str = 'neck') -> Union[Tuple, Tensor]:
        """Class-token features for the head (``stage`` as in ImageClassifier)."""
        if stage not in ('backbone', 'neck', 'pre_logits'):
            raise ValueError(f'Invalid output stage "{stage}"')
        x = self.backbone(inputs)
        if stage == 'backbone':
            return x
        x = tuple(t[:, 0] for t in x)
        if stage == 'neck':
            return x
        return self.head.pre_logits(x)

    @torch.no_grad()
    def _motivate(self, inputs: Tensor) -> Tuple[Tensor, Tensor]:
        """Eval-mode predictions and patch attention of the un-mixed batch."""
        was_training = self.training
        self.eval()
        self._capture_attn = True
        try:
            cls_token, _ = self._tokens(inputs)
            logits = self.head((cls_token, ))
            attn = self._patch_attention()
        finally:
            self._capture_attn = False
            self._last_attn_input = None
            self.train(was_training)
        return logits, attn

    def smmix(self, inputs: Tensor, one_hot: Tensor) -> Dict[str, Tensor]:
        """Max-min attention region mixing of a batch.

        Args:
            inputs (Tensor): Images (B, C, H, W).
            one_hot (Tensor): One-hot labels (B, num_classes).

        Returns:
            dict: ``inputs`` (mixed images), ``target`` (area-mixed label), ``target_mask`` /
            ``source_mask`` (B, N) tokens of each image's own / pasted region, ``mixed_logits``
            (area-mixed un-mixed predictions) and ``lam`` (area of the image's own part).
        """
        H, W = inputs.shape[-2:]
        if (H, W) != (self.side * self.patch_size, ) * 2:
            raise ValueError(f'SMMix inputs must be {self.side * self.patch_size} pixels square '
                             f'(backbone img_size), got {H}x{W}')
        logits, attn = self._motivate(inputs)
        size = random.choice(self.region_sizes)
        windows = region_token_indices(self.side, size, inputs.device)
        # attention mass of every window: (B, 1, S, S) -> (B, size * size, num_windows) -> sum
        window_attn = F.unfold(attn.view(-1, 1, self.side, self.side), size).sum(dim=1)
        target_idx = windows[window_attn.argmin(dim=1)]
        source_idx = windows[window_attn.argmax(dim=1)]
        mixed = paste_tokens(inputs, self.patch_size, target_idx, source_idx)
        source_mask = torch.zeros(attn.shape, dtype=torch.bool, device=inputs.device)
        source_mask.scatter_(1, target_idx, True)
        # lam: area kept from the image itself (the paper's 1 - lambda, as in the official code)
        lam = 1. - size * size / (self.side * self.side)
        return dict(
            inputs=mixed,
            target=lam * one_hot + (1. - lam) * one_hot.flip(0),
            target_mask=~source_mask,
            source_mask=source_mask,
            mixed_logits=lam * logits + (1. - lam) * logits.flip(0),
            lam=torch.tensor(lam))

    def loss(self, inputs: Tensor, data_samples: List[DataSample]) -> dict:
        """SMMix loss on a batch (or the plain / ``mix_augments`` loss on the other batches).

        Args:
            inputs (Tensor): Images (B, C, H, W).
            data_samples (list[DataSample]): Samples with ``gt_label``.

        Returns:
            dict[str, Tensor]: ``loss`` of the head, plus ``loss_fine`` and ``loss_consistency``
            on SMMix batches.
        """
        one_hot = F.one_hot(
            torch.cat([s.gt_label for s in data_samples]), self.num_classes).float()
        if random.random() >= self.smmix_prob:
            if self.mix_augments is not None:
                inputs, score = self.mix_augments(inputs, one_hot)
                for sample, s in zip(data_samples, score):
                    sample.set_gt_score(s)
            return super().loss(inputs, data_samples)

        mix = self.smmix(inputs, one_hot)
        for sample, s in zip(data_samples, mix['target']):
            sample.set_gt_score(s)
        cls_token, patch_tokens = self._tokens(mix['inputs'])
        losses = self.head.loss((cls_token, ), data_samples)

        def region_logits(mask: Tensor) -> Tensor:
            # mean output token of a region, (B, N, C) -> (B, C)
            m = mask.unsqueeze(-1).to(patch_tokens.dtype)
            return self.token_head((patch_tokens * m).sum(1) / m.sum(1))

        smooth = self.label_smoothing
        loss_fine = 0.5 * (
            _soft_cross_entropy(region_logits(mix['target_mask']), _smooth(one_hot, smooth)) +
            _soft_cross_entropy(region_logits(mix['source_mask']),
                                _smooth(one_hot.flip(0), smooth)))
        logits = self.head((cls_token, ))
        loss_con = F.kl_div(
            F.log_softmax(logits.float(), dim=-1),
            F.log_softmax(mix['mixed_logits'].float(), dim=-1),
            reduction='batchmean',
            log_target=True)
        losses['loss_fine'] = self.fine_weight * loss_fine
        losses['loss_consistency'] = self.consistency_weight * loss_con
        return losses
