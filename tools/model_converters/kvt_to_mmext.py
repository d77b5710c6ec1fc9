"""Convert a timm-layout DeiT checkpoint (KVT's or DeiT's own) to mmext's KVT.

    python tools/model_converters/kvt_to_mmext.py SRC DST

SRC is a file as published with damo-cv/KVT or facebookresearch/deit (DeiT's ``main.py``
layout, weights under ``'model'``; the ``'model_ema'`` copy it may carry is not what the
authors evaluated, so it is ignored), or a plain timm state dict (``.pth`` / ``.bin`` /
``.safetensors``). k-NN attention has no parameters of its own, so a KVT checkpoint and a plain
DeiT one have the same keys. The variant (DeiT-Tiny / Small / Base, patch 16, 224x224) is read
from the tensor shapes; distilled DeiT files (``dist_token``, ``head_dist``) and other input
sizes are refused. DST loads with ``strict=True`` into the ``ImageClassifier`` of
``configs/kvt/kvt-deit-<variant>_4xb256-300e_in1k.py`` and into a KVT backbone through
``init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='backbone.')``.

timm -> mmpretrain ``VisionTransformer`` names: ``patch_embed.proj`` -> ``patch_embed.projection``,
``blocks.i`` -> ``layers.i`` with ``norm1/2`` -> ``ln1/2`` and ``mlp.fc1/fc2`` ->
``ffn.layers.0.0/1``, final ``norm`` -> ``ln1``, ``head`` -> ``head.layers.head``.
"""
from typing import Dict, Tuple

import torch
from convert_utils import DEIT_WRAPPER_KEYS, ConversionError, KeyMapper, converter_main

VARIANTS = {192: 'deit-tiny', 384: 'deit-small', 768: 'deit-base'}  # width -> our arch
DEPTH = 12
PATCH = 16
NUM_TOKENS = (224 // PATCH)**2 + 1  # patches + cls token of the 224x224 models


def detect_variant(source: Dict[str, torch.Tensor]) -> str:
    """The arch name, from the width, depth, patch size and token count."""
    for key in ('cls_token', 'pos_embed', 'patch_embed.proj.weight'):
        if key not in source:
            raise ConversionError(f'source key "{key}" not found: not a timm-layout DeiT '
                                  f'checkpoint (first keys: {list(source)[:5]})')
    width = source['cls_token'].shape[-1]
    depth = sum(1 for k in source if k.startswith('blocks.') and k.endswith('.norm1.weight'))
    patch = tuple(source['patch_embed.proj.weight'].shape[2:])
    tokens = source['pos_embed'].shape[1]
    if width not in VARIANTS or depth != DEPTH or patch != (PATCH, PATCH):
        raise ConversionError(f'unknown DeiT layout: width {width}, depth {depth}, patch {patch} '
                              f'(known: widths {sorted(VARIANTS)}, depth {DEPTH}, patch {PATCH})')
    if tokens != NUM_TOKENS:
        raise ConversionError(f'source key "pos_embed" has {tokens} tokens; our configs take '
                              f'224x224 inputs ({NUM_TOKENS} tokens: 196 patches + cls; a '
                              f'distilled DeiT has one more, a 384x384 model 577)')
    return VARIANTS[width]


def convert(source: Dict[str, torch.Tensor]) -> Tuple[Dict[str, torch.Tensor], str]:
    """Map a timm DeiT state dict to ``backbone.*`` / ``head.*`` keys of our classifier."""
    variant = detect_variant(source)
    m = KeyMapper(source)
    m.move('cls_token', 'backbone.cls_token')
    m.move('pos_embed', 'backbone.pos_embed')
    m.move_all('patch_embed.proj.', 'backbone.patch_embed.projection.')
    for i in range(DEPTH):
        src, dst = f'blocks.{i}.', f'backbone.layers.{i}.'
        m.move_all(src + 'norm1.', dst + 'ln1.')
        m.move_all(src + 'attn.qkv.', dst + 'attn.qkv.')
        m.move_all(src + 'attn.proj.', dst + 'attn.proj.')
        m.move_all(src + 'norm2.', dst + 'ln2.')
        m.move_all(src + 'mlp.fc1.', dst + 'ffn.layers.0.0.')
        m.move_all(src + 'mlp.fc2.', dst + 'ffn.layers.1.')
    m.move_all('norm.', 'backbone.ln1.')
    m.move_all('head.', 'head.layers.head.')
    return m.finish(), variant


if __name__ == '__main__':
    converter_main(convert, __doc__.splitlines()[0], wrapper_keys=DEIT_WRAPPER_KEYS)
