"""Convert an official PSLT checkpoint (lazyGj/PSLT, ``classification/pslt.py``) to mmext.

    python tools/model_converters/pslt_to_mmext.py PSLT.pth pslt_mmext.pth

The official ``PSLTransformer`` keeps its stem in ``patch_embed.proj``, its seven MobileNetV2-SE
blocks in one flat ``conv_layers`` list (3 + 3 + the stride-16 one), the ladder blocks in
``layers.{0,1}`` with the patch merging at the *end* of ``layers.0``, and names the value-taking
branches' projection ``kv``. Besides renames the conversion reshapes the SE ``Linear`` weights into
1x1 convs and reorders the patch-merging input channels from Swin's ``x0..x3`` concatenation to the
order of mmcv's ``nn.Unfold``. The variant (tiny / base / large) follows from the stem width.
"""
import re
from typing import Dict, Tuple

import torch
from convert_utils import (ConversionError, KeyMapper, converter_main, move_swin_merging,
                           variant_of)

# stem width -> our arch name (the official PSLT_tiny / PSLT / PSLT_large)
VARIANTS = {24: 'tiny', 36: 'base', 48: 'large'}
# official ``nn.Sequential`` index of each conv / BN in a conv unit -> our ConvModule slot
STEM = {'0': '0.conv', '2': '0.bn', '3': '1.conv', '5': '1.bn', '6': '2.conv', '8': '2.bn'}
MV2 = {'0': '0.conv', '2': '0.bn', '3': '1.conv', '5': '1.bn', '6': '2.conv', '7': '2.bn'}
NORM = ('weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked')


def _move_conv_unit(m: KeyMapper, src: str, dst: str, slots: Dict[str, str]) -> None:
    for idx, slot in slots.items():
        m.move_prefix(f'{src}.{idx}.', f'{dst}.{slot}.', NORM)


def _conv_stage_of_blocks(m: KeyMapper) -> list:
    """Our (stage, index) for each official ``conv_layers.k``: a new stage starts where the
    output width changes; the last block (stride 16) opens the first ladder stage."""
    n = 1 + max(int(k.split('.')[1]) for k in m.source if k.startswith('conv_layers.'))
    widths = [m.source[f'conv_layers.{k}.conv.6.weight'].shape[0] for k in range(n)]
    places, stage, index = [], 0, 0
    for k in range(n):
        if k > 0 and widths[k] != widths[k - 1]:
            stage, index = stage + 1, 0
        places.append((stage, index))
        index += 1
    if stage != 2 or places[-1][1] != 0:
        raise ConversionError(f'expected two MobileNetV2 stages and one stride-16 block in '
                              f'"conv_layers", found output widths {widths}')
    return places


def convert(source: Dict[str, torch.Tensor]) -> Tuple[Dict[str, torch.Tensor], str]:
    if 'patch_embed.proj.3.weight' not in source:
        raise ConversionError(f'could not place source key "{next(iter(source))}": not a PSLT '
                              f'checkpoint (no "patch_embed.proj.3.weight")')
    variant = variant_of(source['patch_embed.proj.3.weight'].shape[0], VARIANTS, 'PSLT stem width')
    m = KeyMapper(source, ignore=('relative_position_index', 'attn_mask'))
    _move_conv_unit(m, 'patch_embed.proj', 'backbone.stem', STEM)

    for k, (stage, index) in enumerate(_conv_stage_of_blocks(m)):
        src, dst = f'conv_layers.{k}', f'backbone.stages.{stage}.conv_blocks.{index}'
        _move_conv_unit(m, f'{src}.conv', f'{dst}.conv', MV2)
        for fc, conv in (('fc1', 'conv1'), ('fc2', 'conv2')):
            # SE Linear (out, in) -> 1x1 conv (out, in, 1, 1)
            m.move(f'{src}.se.{fc}.weight', f'{dst}.se.{conv}.conv.weight',
                   lambda w: w[:, :, None, None])
            m.move(f'{src}.se.{fc}.bias', f'{dst}.se.{conv}.conv.bias')

    block_key = re.compile(r'layers\.(\d)\.blocks\.(\d+)\.(.*)')
    branch_rules = (
        (re.compile(r'blocks\.(\d)\.attn\.kv\.(.*)'), r'branches.\1.attn.qkv.\2'),
        (re.compile(r'blocks\.(\d)\.(.*)'), r'branches.\1.\2'),
        (re.compile(r'pointconv\.(.*)'), r'fuse_proj.\1'),
        (re.compile(r'se\.fc1\.(.*)'), r'fuse_gate.0.\1'),
        (re.compile(r'se\.fc2\.(.*)'), r'fuse_gate.2.\1'),
    )
    for key in [k for k in m.source if block_key.fullmatch(k)]:
        layer, block, rest = block_key.fullmatch(key).groups()
        if rest.endswith(m.ignore):
            continue
        for pattern, repl in branch_rules:
            if pattern.fullmatch(rest):
                m.move(key, f'backbone.stages.{2 + int(layer)}.blocks.{block}.'
                       + pattern.sub(repl, rest))
                break
    # the official merges at the end of layers.0, ours at the start of stages.3
    move_swin_merging(m, 'layers.0.downsample.', 'backbone.stages.3.downsample.')
    m.move_prefix('norm.', 'backbone.norm3.', ('weight', 'bias'))
    m.move_prefix('head.', 'head.fc.', ('weight', 'bias'))
    return m.finish(), f'pslt-{variant}'


if __name__ == '__main__':
    converter_main(convert, __doc__.splitlines()[0])
