"""Convert an official TransReID-SSL checkpoint (damo-cv/TransReID-SSL) to ``TransReIDSSLViT``.

    python tools/model_converters/transreid_ssl_to_mmext.py SRC DST

SRC is ViT-S/16+ICS or ViT-B/16+ICS pre-trained with DINO on LUPerson, as the authors publish it:
the backbone state dict written by ``dino/convert_model_dino.py`` or the DINO training file, whose
``'teacher'`` holds ``backbone.*`` (the DINO projection head ``head.*`` beside it is left out).
DST holds ``backbone.*`` tensors only (a self-supervised file has no classifier): it loads with
``strict=True`` into the backbone of the configs in configs/transreid_ssl, through
``init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='backbone.')``.

The layouts differ by names only:

- the ICS stem ``patch_embed.conv`` (a Sequential: conv, IBN, ReLU, conv, IBN, ReLU, conv, BN,
  ReLU) -> ``patch_embed.convs.{0,1,2}`` (mmcv ``ConvModule``: ``conv`` + ``ibn`` / ``bn``), IBN's
  ``IN`` / ``BN`` -> ``instance_norm`` / ``batch_norm``; ``patch_embed.proj`` -> ``projection``;
- timm blocks ``blocks.i`` -> mmpretrain ``layers.i`` (``norm1`` -> ``ln1``, ``mlp.fc1`` ->
  ``ffn.layers.0.0`` ...); the final ``norm`` -> ``ln1``;
- ``cls_token`` and ``pos_embed`` are kept: the 16x8 grid of the 256x128 pre-training, which our
  backbone resizes when its ``img_size`` differs.
"""
from typing import Dict

import torch
from convert_utils import (DINO_WRAPPER_KEYS, ConversionError, KeyMapper, converter_main,
                           dino_backbone)

from mmext.models.backbones.transreid_ssl import TransReIDSSLViT

# official stem index -> (our ConvModule index, its norm name), for the conv and norm pairs
STEM_CONVS = {0: 0, 3: 1, 6: 2}
STEM_IBNS = {1: 0, 4: 1}
STEM_BN = (7, 2)
BN_NAMES = ('weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked')


def detect_variant(source: Dict[str, torch.Tensor]) -> str:
    """'small' / 'base' from the tensor shapes; a checkpoint without the ICS stem is refused."""
    for key in ('pos_embed', 'patch_embed.proj.weight'):
        if key not in source:
            raise ConversionError(f'source key "{key}" not found: not a TransReID-SSL ViT '
                                  f'checkpoint (first keys: {list(source)[:5]})')
    if 'patch_embed.conv.0.weight' not in source:
        raise ConversionError('"patch_embed.conv.0.weight" not found: no ICS stem. Only the '
                              'ViT-S/16+ICS and ViT-B/16+ICS checkpoints are converted')
    width = source['pos_embed'].shape[-1]
    depth = len({k.split('.')[1] for k in source if k.startswith('blocks.')})
    for name in ('small', 'base'):
        arch = TransReIDSSLViT.arch_settings[name]
        if (arch['embed_dims'], arch['num_layers']) == (width, depth):
            return name
    raise ConversionError(f'"pos_embed" width {width} and {depth} blocks are neither '
                          f'ViT-S/16 (384, 12) nor ViT-B/16 (768, 12)')


def convert(source: Dict[str, torch.Tensor]):
    source = dino_backbone(source)
    variant = detect_variant(source)
    m = KeyMapper(source)
    stem, ours = 'patch_embed.conv.', 'backbone.patch_embed.convs.'
    for theirs, i in STEM_CONVS.items():
        m.move(f'{stem}{theirs}.weight', f'{ours}{i}.conv.weight')
    for theirs, i in STEM_IBNS.items():
        m.move_all(f'{stem}{theirs}.IN.', f'{ours}{i}.ibn.instance_norm.')
        m.move_all(f'{stem}{theirs}.BN.', f'{ours}{i}.ibn.batch_norm.', BN_NAMES)
    m.move_all(f'{stem}{STEM_BN[0]}.', f'{ours}{STEM_BN[1]}.bn.', BN_NAMES)
    m.move_all('patch_embed.proj.', 'backbone.patch_embed.projection.')
    m.move('cls_token', 'backbone.cls_token')
    m.move('pos_embed', 'backbone.pos_embed')
    depth = TransReIDSSLViT.arch_settings[variant]['num_layers']
    for i in range(depth):
        src, dst = f'blocks.{i}.', f'backbone.layers.{i}.'
        for theirs, ours_name in (('norm1', 'ln1'), ('attn.qkv', 'attn.qkv'),
                                  ('attn.proj', 'attn.proj'), ('norm2', 'ln2'),
                                  ('mlp.fc1', 'ffn.layers.0.0'), ('mlp.fc2', 'ffn.layers.1')):
            m.move_all(f'{src}{theirs}.', f'{dst}{ours_name}.')
    m.move_all('norm.', 'backbone.ln1.')
    return m.finish(), f'transreid-ssl-vit-{variant}-ics'


if __name__ == '__main__':
    converter_main(convert, __doc__.splitlines()[0], wrapper_keys=DINO_WRAPPER_KEYS)
