"""Convert an official SuperViT checkpoint (lmbxmu/SuperViT, ``deit/super_deit.py``) to mmext.

    python tools/model_converters/supervit_to_mmext.py super_deit_s.pth supervit_mmext.pth

The official model is a timm-style DeiT with one position embedding per token grid
(``pos_embed_list.{i}``, grids in increasing order, as our ``pos_embeds``). The conversion only
renames; the variant (DeiT-T / S / B) follows from the embedding width and the token grids from
the position-embedding lengths. The LV-ViT SuperViT is a different network and is refused.
"""
import math
import re
from typing import Dict, Tuple

import torch
from convert_utils import ConversionError, KeyMapper, converter_main

VARIANTS = {192: 'deit-tiny', 384: 'deit-small', 768: 'deit-base'}
BLOCK_RULES = (
    ('attn.qkv.', 'qkv.'),
    ('attn.proj.', 'proj.'),
    ('mlp.fc1.', 'ffn.layers.0.0.'),
    ('mlp.fc2.', 'ffn.layers.1.'),
    ('norm1.', 'norm1.'),
    ('norm2.', 'norm2.'),
)


def convert(source: Dict[str, torch.Tensor]) -> Tuple[Dict[str, torch.Tensor], str]:
    m = KeyMapper(source)
    width = m.source.get('cls_token', torch.empty(0)).shape[-1:]
    if not width or width[0] not in VARIANTS:
        raise ConversionError(f'could not place source key "{next(iter(source))}": not a SuperViT '
                              f'(DeiT) checkpoint (no "cls_token" of width {sorted(VARIANTS)})')
    m.move_prefix('patch_embed.proj.', 'backbone.patch_embed.', ('weight', 'bias'))
    m.move('cls_token', 'backbone.cls_token')
    grids = []
    for i in range(len([k for k in m.source if k.startswith('pos_embed_list.')])):
        pos = m.take(f'pos_embed_list.{i}')
        grids.append(math.isqrt(pos.shape[1] - 1))
        m.put(f'backbone.pos_embeds.{i}', pos)
    if not grids or grids != sorted(grids):
        raise ConversionError(f'expected position embeddings of increasing grids in '
                              f'"pos_embed_list.*", got grids {grids}')
    block_key = re.compile(r'blocks\.(\d+)\.(.*)')
    for key in [k for k in m.source if block_key.fullmatch(k)]:
        index, rest = block_key.fullmatch(key).groups()
        for src, dst in BLOCK_RULES:
            if rest.startswith(src):
                m.move(key, f'backbone.layers.{index}.{dst}{rest[len(src):]}')
                break
    m.move_prefix('norm.', 'backbone.ln1.', ('weight', 'bias'))
    m.move_prefix('head.', 'head.layers.head.', ('weight', 'bias'))
    return m.finish(), f'supervit-{VARIANTS[width[0]]} (grids {grids})'


if __name__ == '__main__':
    converter_main(convert, __doc__.splitlines()[0])
