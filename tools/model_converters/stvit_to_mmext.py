"""Convert an official STViT-R checkpoint (changsn/STViT-R) to mmext's ``STViT``.

    python tools/model_converters/stvit_to_mmext.py SRC DST

SRC is STViT-R-Swin-S or -B as the authors publish it (Swin training code: weights under
``model``). DST loads with ``strict=True`` into the ImageClassifier of
``configs/stvit/stvit-r-swin-{small,base}_8xb128-300e_in1k.py`` and, with
``prefix='backbone.'``, into the detection config.

The official third stage is one list of blocks; every six of them form one of our groups
(Swin block, semantic-token generation, global / local / self attention of the semantic
tokens, recovery). Besides renames, the Swin patch merging concatenates the 2x2 pixels as
(0,0), (1,0), (0,1), (1,1) where mmpretrain's unfold takes channel-major (0,0), (0,1), (1,0),
(1,1). Released models have no learned global semantic tokens (``USE_GLOBAL`` off); a file with
them is refused, as our STViT-R has none.
"""
from typing import Dict

import torch
from convert_utils import (ConversionError, KeyMapper, converter_main, move_norm_and_head,
                           move_norms_and_mlp, move_swin_merging, stage_depths,
                           swin_relative_position_index)

from mmext.models.backbones.stvit import STViT

VARIANTS = ('tiny', 'small', 'base')
SEMANTIC_STAGE = 2  # the official model builds its third stage from semantic groups
GROUP = ('swin', 'generate', 'semantic_global', 'semantic_local', 'semantic_self', 'recover')


def _table(source: Dict[str, torch.Tensor], stage: int) -> str:
    key = f'layers.{stage}.blocks.0.attn.relative_position_bias_table'
    if key not in source:
        raise ConversionError(f'source key "{key}" not found: not an STViT-R checkpoint '
                              f'(first keys: {list(source)[:5]})')
    return key


def detect_variant(source: Dict[str, torch.Tensor]):
    """('tiny' / 'small' / 'base', window size) from the tensor shapes."""
    stem = 'patch_embed.proj.2.c.weight'
    if stem not in source:
        raise ConversionError(f'source key "{stem}" (the conv stem) not found: not an STViT-R '
                              f'checkpoint (first keys: {list(source)[:5]})')
    depths = stage_depths(source)
    heads = [source[_table(source, i)].shape[1] for i in range(len(depths))]
    window = (int(round(source[_table(source, 0)].shape[0]**0.5)) + 1) // 2
    found = dict(embed_dims=source[stem].shape[0], depths=depths, num_heads=heads)
    for name in VARIANTS:
        arch = STViT.arch_zoo[name]
        if found == {k: list(v) if isinstance(v, (list, tuple)) else v for k, v in arch.items()}:
            return name, window
    raise ConversionError(f'"{stem}" and the block shapes give {found}, which is none of '
                          f'STViT-R-Swin {"/".join(VARIANTS)}')


def _swin_block(m: KeyMapper, src: str, dst: str, window: int) -> None:
    move_norms_and_mlp(m, src, dst)
    for layer in ('qkv', 'proj'):
        for name in ('weight', 'bias'):
            m.move(f'{src}attn.{layer}.{name}', f'{dst}attn.w_msa.{layer}.{name}')
    m.move(src + 'attn.relative_position_bias_table',
           dst + 'attn.w_msa.relative_position_bias_table')
    m.put(dst + 'attn.w_msa.relative_position_index', swin_relative_position_index(window))


def _semantic_block(m: KeyMapper, src: str, dst: str) -> None:
    move_norms_and_mlp(m, src, dst)
    for layer in ('q', 'kv', 'proj'):
        for name in ('weight', 'bias'):
            m.move(f'{src}attn.{layer}.{name}', f'{dst}attn.{layer}.{name}')
    m.move(src + 'layer_scale_1', dst + 'gamma1')
    m.move(src + 'layer_scale_2', dst + 'gamma2')


def convert(source: Dict[str, torch.Tensor]):
    variant, window = detect_variant(source)
    depths = stage_depths(source)
    # index buffers and shift masks are rebuilt by our model
    m = KeyMapper(source, ignore=('relative_position_index', 'attn_mask'))
    for ours, theirs in ((0, 0), (1, 2)):  # conv-BN, Hardswish, conv-BN, Hardswish
        m.move(f'patch_embed.proj.{theirs}.c.weight', f'backbone.patch_embed.{ours}.conv.weight')
        m.move_prefix(f'patch_embed.proj.{theirs}.bn.', f'backbone.patch_embed.{ours}.bn.',
                      ('weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked'))
    for i, depth in enumerate(depths):
        for j in range(depth):
            src, dst = f'layers.{i}.blocks.{j}.', f'backbone.stages.{i}.blocks.{j}.'
            if i != SEMANTIC_STAGE:
                _swin_block(m, src, dst, window)
                continue
            group, kind = divmod(j, len(GROUP))
            dst = f'backbone.stages.{i}.groups.{group}.{GROUP[kind]}.'
            if kind == 0:
                _swin_block(m, src, dst, window)
            else:
                _semantic_block(m, src, dst)
        if i + 1 < len(depths):
            move_swin_merging(m, f'layers.{i}.downsample.', f'backbone.stages.{i}.downsample.')
    move_norm_and_head(m, f'backbone.norm{len(depths) - 1}')
    return m.finish(), f'stvit-r-swin-{variant}'


if __name__ == '__main__':
    converter_main(convert, __doc__.splitlines()[0])
