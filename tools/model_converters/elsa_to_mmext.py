"""Convert an official ELSA-Swin checkpoint (damo-cv/ELSA) to mmext's ``ELSASwin``.

    python tools/model_converters/elsa_to_mmext.py SRC DST

SRC is ELSA-Swin-T, -S or -B as the authors publish it (a timm training checkpoint; its EMA
weights are taken when the file has them, as ELSA-Swin-B is evaluated with EMA). DST loads with
``strict=True`` into the ImageClassifier of ``configs/elsa/elsa-swin-{tiny,small,base}_*_in1k.py``
and, with ``prefix='backbone.'``, into the detection / segmentation configs.

Besides renames, the official layout differs from ours in four places:

- the ghost head of ELSA-Swin is additive only (lambda 0, gamma 1), stored ``(1, C, k, k)``;
  ours is ``ghost_add`` ``(C, k*k)``;
- patch merging concatenates the 2x2 pixels as (0,0), (1,0), (0,1), (1,1) where mmcv's unfold
  takes channel-major (0,0), (0,1), (1,0), (1,1), and it ends stage i where ours starts stage i+1;
- the last stage's window attention projects the rows as v, q, k (ours q, k, v);
- its bias table ``rb`` ``(heads, (2w-1)^2)`` is indexed by the offset of the key from the query,
  Swin's table ``((2w-1)^2, heads)`` by the offset of the query from the key: the same entries in
  reversed order.
"""
from typing import Dict, Tuple

import torch
from convert_utils import (ConversionError, KeyMapper, converter_main, move_norm_and_head,
                           move_norms_and_mlp, move_swin_merging, stage_depths,
                           swin_relative_position_index)

from mmext.models.backbones.elsa_swin import ELSASwin

VARIANTS = ('tiny', 'small', 'base')
KERNEL_SIZE = WINDOW_SIZE = 7  # ELSA neighbourhood and Swin window of every published model


def _shape(source: Dict[str, torch.Tensor], key: str) -> Tuple[int, ...]:
    if key not in source:
        raise ConversionError(f'source key "{key}" not found: not an ELSA-Swin checkpoint '
                              f'(first keys: {list(source)[:5]})')
    return tuple(source[key].shape)


def detect_variant(source: Dict[str, torch.Tensor]) -> str:
    """'tiny' / 'small' / 'base' from the tensor shapes; anything else is refused."""
    embed_dims = _shape(source, 'patch_embed.proj.weight')[0]
    depths = stage_depths(source)
    if len(depths) != 4:
        raise ConversionError(f'expected 4 stages of "layers.<i>.blocks.<j>", got {depths}')
    ghost = 'layers.0.blocks.0.attn.ghost_head'
    shape = _shape(source, ghost)
    if len(shape) != 4 or shape[0] != 1 or shape[2:] != (KERNEL_SIZE, KERNEL_SIZE):
        raise ConversionError(
            f'"{ghost}" has shape {shape}; the published ELSA-Swin (additive ghost head only, '
            f'kernel {KERNEL_SIZE}) has (1, C, {KERNEL_SIZE}, {KERNEL_SIZE})')
    heads = [_shape(source, f'layers.{i}.blocks.0.attn.attn.2.weight')[0] // KERNEL_SIZE**2
             for i in range(3)]
    table = 'layers.3.blocks.0.attn.rb'
    heads.append(_shape(source, table)[0])
    if _shape(source, table)[1] != (2 * WINDOW_SIZE - 1)**2:
        raise ConversionError(f'"{table}" has shape {_shape(source, table)}: not window '
                              f'{WINDOW_SIZE}')
    group_width = _shape(source, 'layers.0.blocks.0.attn.attn.0.weight')[1]
    found = dict(embed_dims=embed_dims, depths=depths, num_heads=heads, group_width=group_width)
    for name in VARIANTS:
        arch = ELSASwin.arch_settings[name]
        if found == {k: list(v) if isinstance(v, (list, tuple)) else v
                     for k, v in arch.items()}:
            return name
    raise ConversionError(f'"patch_embed.proj.weight" and the block shapes give {found}, which '
                          f'is none of ELSA-Swin {"/".join(VARIANTS)}')


def _vqk_to_qkv(x: torch.Tensor) -> torch.Tensor:
    v, q, k = x.chunk(3, dim=0)
    return torch.cat([q, k, v], dim=0)


def convert(source: Dict[str, torch.Tensor]):
    variant = detect_variant(source)
    depths = stage_depths(source)
    m = KeyMapper(source, ignore=('attn.relative_id', ))  # rebuilt by our model
    for name in ('weight', 'bias'):
        m.move(f'patch_embed.proj.{name}', f'backbone.patch_embed.projection.{name}')
        m.move(f'patch_embed.norm.{name}', f'backbone.patch_embed.norm.{name}')
    for i, depth in enumerate(depths):
        for j in range(depth):
            src, dst = f'layers.{i}.blocks.{j}.', f'backbone.stages.{i}.blocks.{j}.'
            move_norms_and_mlp(m, src, dst)
            if i < 3:  # ELSA blocks: same convs, flat ghost head
                for layer in ('pre_proj', 'attn.0', 'attn.2', 'post_proj'):
                    for name in ('weight', 'bias'):
                        m.move(f'{src}attn.{layer}.{name}', f'{dst}attn.{layer}.{name}')
                m.move(src + 'attn.ghost_head', dst + 'attn.ghost_add',
                       lambda g: g.reshape(g.shape[1], -1))
            else:  # Swin blocks
                msa = dst + 'attn.w_msa.'
                m.move(src + 'attn.pre_proj.weight', msa + 'qkv.weight', _vqk_to_qkv)
                m.move(src + 'attn.pre_proj.bias', msa + 'qkv.bias', _vqk_to_qkv)
                m.move(src + 'attn.post_proj.weight', msa + 'proj.weight')
                m.move(src + 'attn.post_proj.bias', msa + 'proj.bias')
                # table entry of offset d sits at index (2w-1)^2 - 1 - (Swin's index of d)
                m.move(src + 'attn.rb', msa + 'relative_position_bias_table',
                       lambda rb: rb.flip(-1).t())
                m.put(msa + 'relative_position_index', swin_relative_position_index(WINDOW_SIZE))
        if i + 1 < len(depths):  # official: end of stage i; ours: start of stage i + 1
            move_swin_merging(m, f'layers.{i}.downsample.', f'backbone.stages.{i + 1}.downsample.')
    move_norm_and_head(m, f'backbone.norm{len(depths) - 1}')
    return m.finish(), f'elsa-swin-{variant}'


if __name__ == '__main__':
    converter_main(convert, __doc__.splitlines()[0])
