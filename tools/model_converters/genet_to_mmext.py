"""Convert an official GENet checkpoint (idstcv/GPU-Efficient-Networks) to mmext.

    python tools/model_converters/genet_to_mmext.py GENet_normal.pth genet-normal_mmext.pth

The official ``PlainNet`` registers its blocks in ``module_list``: ``ConvKX`` / ``BN`` / ``RELU``
wrappers (weights under ``.netblock``) for the stem and the final 1x1 conv, and ``SuperRes*``
stages whose residual units sit in ``conv_list.{j}`` (conv, BN, ReLU, ...) and
``shortcut_list.{j}`` (strided 1x1 conv + BN or empty). The shortcuts are registered *before*
the branches, so the keys are mapped by name, never by position. The variant (small / normal /
large) is read from the stem width, the stage widths and depths and the final width.
"""
import re
from typing import Dict, Tuple

import torch
from convert_utils import ConversionError, KeyMapper, converter_main, variant_of

NORM = ('weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked')
# (stem width, [(stage width, units)], final width) of the released models
VARIANTS = {
    (13, ((48, 1), (48, 3), (384, 7), (560, 2), (256, 1)), 1920): 'small',
    (32, ((128, 1), (192, 2), (640, 6), (640, 4), (640, 1)), 2560): 'normal',
    (32, ((128, 1), (192, 2), (640, 6), (640, 5), (640, 4)), 2560): 'large',
}
# conv_list index of each conv / BN -> our ConvModule slot in ``branch``; an ``XX`` unit has
# two convs (0, 3), ``BL`` / ``DW`` units three (0, 3, 6)
BRANCH = {'0': '0.conv', '1': '0.bn', '3': '1.conv', '4': '1.bn', '6': '2.conv', '7': '2.bn'}
SHORTCUT = {'0': 'conv', '1': 'bn'}


def _stage_layout(source: Dict[str, torch.Tensor], block: int) -> Tuple[int, int]:
    """(output width, units) of the SuperRes stage ``module_list.{block}``."""
    prefix = f'module_list.{block}.conv_list.'
    units = 1 + max(int(k[len(prefix):].split('.')[0]) for k in source if k.startswith(prefix))
    last = 6 if f'{prefix}0.6.weight' in source else 3
    return source[f'{prefix}0.{last}.weight'].shape[0], units


def convert(source: Dict[str, torch.Tensor]) -> Tuple[Dict[str, torch.Tensor], str]:
    m = KeyMapper(source)
    indices = sorted({int(k.split('.')[1]) for k in source if re.match(r'module_list\.\d+\.', k)})
    stages = [i for i in indices if f'module_list.{i}.conv_list.0.0.weight' in source]
    convs = [i for i in indices if f'module_list.{i}.netblock.weight' in source
             and source[f'module_list.{i}.netblock.weight'].dim() == 4]
    if not stages or len(convs) != 2:
        raise ConversionError(f'could not place source key "{next(iter(source))}": not a GENet '
                              f'(a stem conv, SuperRes stages, a final conv in "module_list")')
    # each conv is followed by its BN wrapper (weights under .netblock as well)
    for conv, dst in zip(convs, ('backbone.stem', 'backbone.final_conv')):
        m.move(f'module_list.{conv}.netblock.weight', f'{dst}.conv.weight')
        m.move_prefix(f'module_list.{conv + 1}.netblock.', f'{dst}.bn.', NORM)

    unit_key = re.compile(r'module_list\.(\d+)\.(conv|shortcut)_list\.(\d+)\.(\d+)\.(.*)')
    stage_of = {block: s for s, block in enumerate(stages)}
    for key in [k for k in m.source if unit_key.fullmatch(k)]:
        block, kind, unit, idx, name = unit_key.fullmatch(key).groups()
        slot = (BRANCH if kind == 'conv' else SHORTCUT).get(idx)
        if int(block) in stage_of and slot is not None:
            dst = 'branch' if kind == 'conv' else 'shortcut'
            m.move(key, f'backbone.stages.{stage_of[int(block)]}.{unit}.{dst}.{slot}.{name}')
    m.move_prefix('fc_linear.', 'head.fc.', ('weight', 'bias'))
    state_dict = m.finish()
    layout = (source[f'module_list.{convs[0]}.netblock.weight'].shape[0],
              tuple(_stage_layout(source, block) for block in stages),
              source[f'module_list.{convs[1]}.netblock.weight'].shape[0])
    return state_dict, 'genet-' + variant_of(layout, VARIANTS, 'GENet')


if __name__ == '__main__':
    converter_main(convert, __doc__.splitlines()[0])
