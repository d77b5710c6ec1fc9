"""Convert an official SOLIDER checkpoint (tinyvision/SOLIDER) to mmext's ``SOLIDERSwin``.

    python tools/model_converters/solider_to_mmext.py SRC DST

SRC is SOLIDER Swin-T, -S or -B pre-trained on LUPerson, as the authors publish it: the DINO
teacher written by ``convert_model.py`` (``backbone.*`` plus the DINO projection head ``head.*``,
which is left out) or the training file holding it under ``'teacher'``. DST holds ``backbone.*``
tensors only: it loads with ``strict=True`` into a ``SOLIDERSwin`` with ``out_indices=(0, 1, 2,
3)`` (the official output norms ``norm0``-``norm3`` are all in the file), e.g. the detection and
segmentation configs of configs/solider, through
``init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='backbone.')``; a classifier with
``out_indices=(3, )`` takes all but the three unused output norms.

SOLIDER's Swin is mmseg's (``patch_embed.projection``, ``stages.i.blocks.j.attn.w_msa``,
``ffn.layers``, unfold-ordered patch merging at the end of stages 0-2), the layout of mmpretrain's
``SwinTransformer``, so the tensors keep their names; the semantic controller
``semantic_embed_w.i`` / ``semantic_embed_b.i`` (``Linear(2, C)``) is kept as it is.
"""
from typing import Dict

import torch
from convert_utils import (DINO_WRAPPER_KEYS, ConversionError, KeyMapper, converter_main,
                           dino_backbone, stage_depths, swin_relative_position_index)

from mmext.models.backbones.solider_swin import SOLIDERSwin

WINDOW_SIZE = 7  # every published SOLIDER model
VARIANTS = ('tiny', 'small', 'base')


def detect_variant(source: Dict[str, torch.Tensor]) -> str:
    """'tiny' / 'small' / 'base' from the tensor shapes; anything else is refused."""
    key = 'patch_embed.projection.weight'
    if key not in source:
        raise ConversionError(f'source key "{key}" not found: not a SOLIDER Swin checkpoint '
                              f'(first keys: {list(source)[:5]})')
    embed_dims = source[key].shape[0]
    depths = stage_depths(source, r'stages\.(\d+)\.blocks\.(\d+)\.')
    tables = [f'stages.{i}.blocks.0.attn.w_msa.relative_position_bias_table'
              for i in range(len(depths))]
    missing = [t for t in tables if t not in source]
    if missing:
        raise ConversionError(f'source key "{missing[0]}" not found')
    heads = [source[t].shape[1] for t in tables]
    if source[tables[0]].shape[0] != (2 * WINDOW_SIZE - 1)**2:
        raise ConversionError(f'"{tables[0]}" has shape {tuple(source[tables[0]].shape)}: not '
                              f'window {WINDOW_SIZE}')
    found = dict(embed_dims=embed_dims, depths=depths, num_heads=heads)
    for name in VARIANTS:
        arch = SOLIDERSwin.arch_settings[name]
        if found == {k: arch[k] for k in found}:
            return name
    raise ConversionError(f'"{key}" and the block shapes give {found}, which is none of '
                          f'SOLIDER Swin {"/".join(VARIANTS)}')


def convert(source: Dict[str, torch.Tensor]):
    source = dino_backbone(source)
    variant = detect_variant(source)
    depths = stage_depths(source, r'stages\.(\d+)\.blocks\.(\d+)\.')
    m = KeyMapper(source)
    index = swin_relative_position_index(WINDOW_SIZE)
    m.move_all('patch_embed.projection.', 'backbone.patch_embed.projection.')
    m.move_all('patch_embed.norm.', 'backbone.patch_embed.norm.')
    for i, depth in enumerate(depths):
        for j in range(depth):
            block = f'stages.{i}.blocks.{j}.'
            for name in ('norm1', 'attn.w_msa.qkv', 'attn.w_msa.proj', 'norm2',
                         'ffn.layers.0.0', 'ffn.layers.1'):
                m.move_all(f'{block}{name}.', f'backbone.{block}{name}.')
            msa = block + 'attn.w_msa.'
            m.move(msa + 'relative_position_bias_table',
                   f'backbone.{msa}relative_position_bias_table')
            if not torch.equal(m.take(msa + 'relative_position_index'), index):
                raise ConversionError(f'"{msa}relative_position_index" is not the index of a '
                                      f'{WINDOW_SIZE}x{WINDOW_SIZE} window')
            m.put(f'backbone.{msa}relative_position_index', index)
        if i + 1 < len(depths):  # mmseg and mmpretrain both merge patches at the stage's end
            m.move_all(f'stages.{i}.downsample.norm.', f'backbone.stages.{i}.downsample.norm.')
            m.move(f'stages.{i}.downsample.reduction.weight',
                   f'backbone.stages.{i}.downsample.reduction.weight')
        m.move_prefix(f'norm{i}.', f'backbone.norm{i}.', ('weight', 'bias'))
        m.move_all(f'semantic_embed_w.{i}.', f'backbone.semantic_embed_w.{i}.')
        m.move_all(f'semantic_embed_b.{i}.', f'backbone.semantic_embed_b.{i}.')
    return m.finish(), f'solider-swin-{variant}'


if __name__ == '__main__':
    converter_main(convert, __doc__.splitlines()[0], wrapper_keys=DINO_WRAPPER_KEYS)
