"""Convert an official ZenNet checkpoint (idstcv/ZenNAS, ``ZenNet/masternet.py``) to mmext.

    python tools/model_converters/zennet_to_mmext.py student_best-params_rank0.pth \\
        zennet-flops400m-se_mmext.pth

The official ``PlainNet`` nests every layer in ``module_list`` wrappers: the stem and the final
1x1 conv are ``SuperConvK*BNRELU`` blocks (conv, BN under ``.module_list.{0,1}.netblock``), each
``SuperResIDWE*`` stage alternates residual units and ReLUs in its ``module_list`` (unit ``u`` at
``2u``), and a unit holds conv, BN, ReLU, depthwise conv, BN, ReLU, [SE], conv, BN plus an optional
``proj`` shortcut. The tensors line up one to one with ours; the official BatchNorms use eps 1e-3,
which our ZenNet configs set too. The variant follows from the stage widths and depths.
"""
import re
from typing import Dict, Tuple

import torch
from convert_utils import ConversionError, KeyMapper, converter_main, variant_of

NORM = ('weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked')
# (stem width, [(bottleneck, out, sub_layers)], final width) of the released SE models
VARIANTS = {
    (16, ((40, 40, 1), (64, 64, 1), (96, 96, 5), (224, 224, 5)), 2048): 'flops400m-se',
    (24, ((48, 48, 1), (72, 72, 1), (88, 96, 5), (168, 192, 5)), 2048): 'flops600m-se',
    (16, ((72, 48, 1), (64, 72, 3), (144, 152, 3), (352, 360, 4), (264, 288, 3)), 2048):
    'flops900m-se',
}
# index of each wrapped conv / BN inside a unit -> our slot in ``branch``, without / with SE
UNIT = {'0': '0.conv', '1': '0.bn', '3': '1.conv', '4': '1.bn', '6': '2.conv', '7': '2.bn'}
UNIT_SE = {'0': '0.conv', '1': '0.bn', '3': '1.conv', '4': '1.bn', '7': '3.conv', '8': '3.bn'}
# SE gate: avgpool, conv, BN, ReLU, conv, BN, sigmoid -> our two ConvModules
SE = {'1': 'gate.1.conv', '2': 'gate.1.bn', '4': 'gate.2.conv', '5': 'gate.2.bn'}


def _unit_target(rest: str, with_se: bool):
    """Our key under a residual unit for the official key ``rest`` under it, or None."""
    se = re.fullmatch(r'module_list\.6\.netblock\.(\d+)\.(.*)', rest)
    if se and with_se:
        return SE.get(se[1]) and f'branch.2.{SE[se[1]]}.{se[2]}'
    layer = re.fullmatch(r'module_list\.(\d+)\.netblock\.(.*)', rest)
    if layer:
        slot = (UNIT_SE if with_se else UNIT).get(layer[1])
        return slot and f'branch.{slot}.{layer[2]}'
    proj = re.fullmatch(r'proj\.([01])\.(.*)', rest)  # strided 1x1 conv (with bias) + BN
    return proj and f'shortcut.{proj[1]}.{proj[2]}'


def convert(source: Dict[str, torch.Tensor]) -> Tuple[Dict[str, torch.Tensor], str]:
    m = KeyMapper(source)
    blocks = sorted({int(k.split('.')[1]) for k in source if re.match(r'module_list\.\d+\.', k)})
    if len(blocks) < 3 or 'fc_linear.netblock.weight' not in source:
        raise ConversionError(f'could not place source key "{next(iter(source))}": not a ZenNet '
                              f'(stem, IDW stages and final conv in "module_list", "fc_linear")')
    for block, dst in ((blocks[0], 'backbone.stem'), (blocks[-1], 'backbone.final_conv')):
        m.move(f'module_list.{block}.module_list.0.netblock.weight', f'{dst}.conv.weight')
        m.move_prefix(f'module_list.{block}.module_list.1.netblock.', f'{dst}.bn.', NORM)

    stage_of = {block: s for s, block in enumerate(blocks[1:-1])}
    unit_key = re.compile(r'module_list\.(\d+)\.module_list\.(\d+)\.(.*)')
    for key in [k for k in m.source if unit_key.fullmatch(k)]:
        block, unit, rest = unit_key.fullmatch(key).groups()
        if int(block) not in stage_of or int(unit) % 2:
            continue  # not a stage or not a unit: left for finish() to report
        with_se = f'module_list.{block}.module_list.{unit}.module_list.6.netblock.1.weight' \
            in source
        target = _unit_target(rest, with_se)
        if target:
            m.move(key, f'backbone.stages.{stage_of[int(block)]}.{int(unit) // 2}.{target}')
    m.move_prefix('fc_linear.netblock.', 'head.fc.', ('weight', 'bias'))
    state_dict = m.finish()

    def stage_layout(s):
        units = 1 + max(int(k.split('.')[3]) for k in state_dict
                        if k.startswith(f'backbone.stages.{s}.'))
        last = '3' if f'backbone.stages.{s}.0.branch.3.conv.weight' in state_dict else '2'
        out = [state_dict[f'backbone.stages.{s}.{u}.branch.{last}.conv.weight'].shape[0]
               for u in (0, units - 1)]
        return out[0], out[1], units // 2

    layout = (state_dict['backbone.stem.conv.weight'].shape[0],
              tuple(stage_layout(s) for s in range(len(stage_of))),
              state_dict['backbone.final_conv.conv.weight'].shape[0])
    return state_dict, 'zennet-' + variant_of(layout, VARIANTS, 'ZenNet')


if __name__ == '__main__':
    converter_main(convert, __doc__.splitlines()[0])
