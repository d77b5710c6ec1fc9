"""Convert an official DilateFormer ImageNet-1k checkpoint to mmext.

    python tools/model_converters/dilateformer_to_mmext.py SRC DST

SRC is a file as published with JIAOJIAYUASD/dilateformer (DeiT's ``main.py`` layout: the
weights under ``'model'``; its ``'model_ema'`` copy is not what the authors evaluated, so it is
ignored). The variant (tiny / small / base) is read from the tensor shapes. DST loads with
``strict=True`` into the ``ImageClassifier`` of ``configs/dilateformer/dilateformer-<variant>_
8xb128-300e_in1k.py``, and into any DilateFormer backbone through
``init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='backbone.')``.

Layout differences handled here (the function is unchanged):
- the official stride-2 convolution + BN ending stage ``i`` (``stages.i.downsample``) is our
  ``downsample_layers[i + 1]`` starting the next stage (ConvNeXt layout); the stem
  (``patch_embed.proj``) is ``downsample_layers[0]`` with the same Sequential indices;
- MSDA's QKV is a 1x1 ``Conv2d`` officially and an ``nn.Linear`` here: ``(3C, C, 1, 1) ->
  (3C, C)``, output channels in the same (qkv, dilation group, head, channel) order;
- ``pos_embed`` (the per-block depth-wise conv) is ``cpe``, ``mlp.fc1/fc2`` mmcv's
  ``ffn.layers.0.0/1``, the final ``norm`` is ``norm3`` and ``head`` is ``head.fc``.
"""
from typing import Dict, Tuple

import torch
from convert_utils import DEIT_WRAPPER_KEYS, ConversionError, KeyMapper, converter_main

# name: (stage-1 width, blocks per stage), as DilateFormer.arch_settings
VARIANTS = {
    'tiny': (72, (2, 2, 6, 2)),
    'small': (72, (3, 5, 8, 3)),
    'base': (96, (4, 8, 10, 3)),
}
MSDA_STAGES = (0, 1)  # the official `dilate_attention=[True, True, False, False]`
BN_STATS = ('weight', 'bias', 'running_mean', 'running_var')


def detect_variant(source: Dict[str, torch.Tensor]) -> Tuple[str, Tuple[int, ...]]:
    """The variant name and its depths, from stage 1's width and the number of blocks."""
    first = 'stages.0.blocks.0.norm1.weight'
    if first not in source:
        raise ConversionError(f'source key "{first}" not found: not an official DilateFormer '
                              f'checkpoint (first keys: {list(source)[:5]})')
    width = source[first].shape[0]
    depths = tuple(
        sum(1 for k in source
            if k.startswith(f'stages.{i}.blocks.') and k.endswith('.norm1.weight'))
        for i in range(4))
    for name, layout in VARIANTS.items():
        if layout == (width, depths):
            return name, depths
    raise ConversionError(f'unknown DilateFormer layout: stage-1 width {width}, depths {depths} '
                          f'(known: {VARIANTS})')


def convert(source: Dict[str, torch.Tensor]) -> Tuple[Dict[str, torch.Tensor], str]:
    """Map an official state dict to ``backbone.*`` / ``head.*`` keys of our classifier."""
    variant, depths = detect_variant(source)
    m = KeyMapper(source)
    stem = 'backbone.downsample_layers.0.'
    for i in (0, 3, 6, 9):  # bias-free convs
        m.move(f'patch_embed.proj.{i}.weight', f'{stem}{i}.weight')
    for i in (1, 4, 7):
        m.move_all(f'patch_embed.proj.{i}.', f'{stem}{i}.', BN_STATS)
        m.move_prefix(f'patch_embed.proj.{i}.', f'{stem}{i}.', ('num_batches_tracked', ))

    for i, depth in enumerate(depths):
        for j in range(depth):
            src, dst = f'stages.{i}.blocks.{j}.', f'backbone.stages.{i}.{j}.'
            m.move_all(src + 'pos_embed.', dst + 'cpe.')
            m.move_all(src + 'norm1.', dst + 'norm1.')
            if i in MSDA_STAGES:
                m.move(src + 'attn.qkv.weight', dst + 'attn.qkv.weight', _conv1x1_to_linear)
                m.move(src + 'attn.qkv.bias', dst + 'attn.qkv.bias')
            else:
                m.move_all(src + 'attn.qkv.', dst + 'attn.qkv.')
            m.move_all(src + 'attn.proj.', dst + 'attn.proj.')
            m.move_all(src + 'norm2.', dst + 'norm2.')
            m.move_all(src + 'mlp.fc1.', dst + 'ffn.layers.0.0.')
            m.move_all(src + 'mlp.fc2.', dst + 'ffn.layers.1.')
        if i + 1 < len(depths):
            src, dst = f'stages.{i}.downsample.proj.', f'backbone.downsample_layers.{i + 1}.'
            m.move_all(src + '0.', dst + '0.')
            m.move_all(src + '1.', dst + '1.', BN_STATS)
            m.move_prefix(src + '1.', dst + '1.', ('num_batches_tracked', ))
    m.move_all('norm.', f'backbone.norm{len(depths) - 1}.')
    m.move_all('head.', 'head.fc.')
    return m.finish(), variant


def _conv1x1_to_linear(weight: torch.Tensor) -> torch.Tensor:
    if weight.dim() != 4 or weight.shape[2:] != (1, 1):
        raise ConversionError(f'MSDA qkv: expected a 1x1 conv weight, got {tuple(weight.shape)}')
    return weight.flatten(1)


if __name__ == '__main__':
    converter_main(convert, __doc__.splitlines()[0], wrapper_keys=DEIT_WRAPPER_KEYS)
