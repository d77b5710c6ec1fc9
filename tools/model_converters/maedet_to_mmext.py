"""Convert an official MAE-DET detector (alibaba/lightweight-neural-architecture-search) to mmext.

    python tools/model_converters/maedet_to_mmext.py latest.pth maedet-s_mmext.pth

The published ``maedet-{s,m,l}/latest.pth`` are GFLV2 detectors saved by mmdet 2.x
(``{'meta', 'state_dict', 'optimizer'}``). Their backbone is the official ``MadNas`` wrapper
around ``CnnNet`` / ``MasterNet`` (``backbone.body.block_list.*``): block 0 is the
``ConvKXBNRELU`` stem (``conv1`` / ``bn1``), each further block a ``SuperResK1KXK1`` super-block
whose ``block_list`` holds its ``L`` units, a unit being three ``ConvKXBN`` (``conv1``, ``conv2``,
``conv3``, each with ``conv1`` / ``bn1`` inside) plus, in the first unit, a ``residual_proj``
``ConvKXBN`` after the (parameter-free) 2x2 average pooling. These tensors map one to one to
``mmext.MAEDet``'s ``backbone.stem`` / ``backbone.stages.{b}.{u}.branch.{0,1,2}`` /
``backbone.stages.{b}.0.shortcut.{1,2}`` (the pooling is ``shortcut.0``: every super-block of
the published structures has stride 2, which is assumed here). The official BatchNorms (SyncBN
while training) have PyTorch's defaults, as ours.

Keys are written for the whole detector of ``configs/maedet/gfl_maedet-{s,m,l}_*.py``
(mmdet ``GFL`` with ``FPN`` and the GFL V1 ``GFLHead``), so the file loads with ``load_from``:

- kept unchanged: ``backbone.*`` (renamed as above), ``neck.*`` (mmdet's FPN, same layers),
  and the GFLV2 head parts that GFL V1 shares with it: ``bbox_head.cls_convs`` /
  ``reg_convs`` (GN towers), ``gfl_reg``, ``scales`` and the fixed ``integral.project``;
- dropped: ``bbox_head.reg_conf.*`` (GFLV2's DGQP quality branch, which our head lacks) and
  ``bbox_head.gfl_cls.*`` (81 outputs, 80 classes and a dummy background column, and trained
  as a score to be multiplied by DGQP's quality; GFL V1 predicts the joint score with 80).
  Loading the file leaves those two layers of our head initialised (mmengine reports them as
  missing keys): fine-tune before evaluating.

Any other key stops the conversion with its name. The variant (s, m or l) follows from the
stem and super-block shapes (width, kernel, units, bottleneck); another layout is converted
as ``maedet-custom`` and its structure printed, for ``arch`` of ``mmext.MAEDet``.
"""
import re
from collections import OrderedDict
from typing import Dict, List, Tuple

import torch
from convert_utils import ConversionError, KeyMapper, converter_main

BODY = 'backbone.body.block_list.'
NORM = ('weight', 'bias', 'running_mean', 'running_var')
# ((stem out, stem kernel), ((out, kernel, units, bottleneck) per super-block)) as in
# configs/detection/models/maedet_{s,m,l}.txt (stride 2 everywhere)
VARIANTS = {
    ((32, 3), ((48, 5, 2, 32), (272, 3, 4, 120), (1024, 5, 10, 80), (2048, 3, 10, 240))): 's',
    ((64, 3), ((120, 3, 2, 64), (512, 5, 10, 72), (1632, 5, 10, 112), (2048, 5, 8, 184))): 'm',
    ((80, 3), ((144, 3, 2, 80), (608, 5, 12, 88), (1912, 5, 12, 136), (2400, 5, 10, 220))): 'l',
}
# neck and head tensors that load unchanged into mmdet's FPN and GFLHead
KEEP = re.compile(r'neck\.(lateral_convs|fpn_convs)\.\d+\.conv\.(weight|bias)'
                  r'|bbox_head\.(cls_convs|reg_convs)\.\d+\.(conv\.weight|gn\.weight|gn\.bias)'
                  r'|bbox_head\.gfl_reg\.(weight|bias)|bbox_head\.scales\.\d+\.scale'
                  r'|bbox_head\.integral\.project')
# GFLV2 tensors our GFL V1 head has no place for
DROP = re.compile(r'bbox_head\.(reg_conf\.\d+|gfl_cls)\.(weight|bias)')
UNIT = re.compile(re.escape(BODY) + r'(\d+)\.block_list\.(\d+)\.')


def _move_conv_bn(m: KeyMapper, src: str, conv: str, norm: str) -> None:
    """An official ``ConvKXBN`` at ``src`` (``conv1`` bias-free conv, ``bn1`` BatchNorm) -> our
    ``conv`` weight and ``norm`` BatchNorm."""
    m.move(f'{src}conv1.weight', f'{conv}.weight')
    for name in NORM:
        m.move(f'{src}bn1.{name}', f'{norm}.{name}')
    m.move_prefix(f'{src}bn1.', f'{norm}.', ('num_batches_tracked', ))


def _indices(keys: List[str], what: str, first: int = 0) -> List[int]:
    """The sorted distinct indices in ``keys``; they must run ``first, first + 1, ...``."""
    found = sorted(set(int(k) for k in keys))
    if found != list(range(first, first + len(found))):
        raise ConversionError(f'{what} are not numbered {first}, {first + 1}, ...: {found}')
    return found


def convert_detector(source: Dict[str, torch.Tensor]) -> Tuple[Dict[str, torch.Tensor], str,
                                                               List[dict], List[str]]:
    """Map an official MAE-DET detector state dict.

    Returns:
        tuple: (our state dict, variant name, the structure in the official format read from
        the shapes, the dropped source keys).
    """
    if f'{BODY}0.conv1.weight' not in source:
        raise ConversionError(
            f'could not place source key "{next(iter(source))}": not an official MAE-DET '
            f'detector (stem "{BODY}0.conv1.weight" of the MadNas backbone missing)')
    m = KeyMapper(source)
    stem = source[f'{BODY}0.conv1.weight']
    _move_conv_bn(m, f'{BODY}0.', 'backbone.stem.conv', 'backbone.stem.bn')
    structure = [{'class': 'ConvKXBNRELU', 'in': stem.shape[1], 'out': stem.shape[0], 's': 2,
                  'k': stem.shape[-1]}]

    units: Dict[int, List[str]] = {}
    for key in source:
        found = UNIT.match(key)
        if found:
            units.setdefault(int(found[1]), []).append(found[2])
    if not units:
        raise ConversionError(f'no super-block units under "{BODY}<block>.block_list."')
    for block in _indices(list(units), f'super-blocks under "{BODY}"', first=1):
        src = f'{BODY}{block}.block_list.'
        dst = f'backbone.stages.{block - 1}.'
        depth = len(_indices(units[block], f'units under "{src}"'))
        for unit in range(depth):
            for j in range(3):
                _move_conv_bn(m, f'{src}{unit}.conv{j + 1}.', f'{dst}{unit}.branch.{j}.conv',
                              f'{dst}{unit}.branch.{j}.bn')
        # 2x2 average pooling (shortcut.0), then the 1x1 conv + BN projection
        _move_conv_bn(m, f'{src}0.residual_proj.', f'{dst}0.shortcut.1', f'{dst}0.shortcut.2')
        conv1, conv2, conv3 = (source[f'{src}0.conv{j}.conv1.weight'] for j in (1, 2, 3))
        if conv1.shape[1] != structure[-1]['out']:
            raise ConversionError(
                f'source key "{src}0.conv1.conv1.weight" has {conv1.shape[1]} input channels, '
                f'the previous block gives {structure[-1]["out"]}')
        structure.append({'class': 'SuperResK1KXK1', 'in': conv1.shape[1],
                          'out': conv3.shape[0], 's': 2, 'k': conv2.shape[-1], 'L': depth,
                          'btn': conv1.shape[0]})

    dropped = []
    for key in list(m.source):
        if KEEP.fullmatch(key):
            m.move(key, key)
        elif DROP.fullmatch(key):
            m.take(key)
            dropped.append(key)
    state_dict = m.finish()

    layout = ((structure[0]['out'], structure[0]['k']),
              tuple((b['out'], b['k'], b['L'], b['btn']) for b in structure[1:]))
    variant = VARIANTS.get(layout, 'custom') if structure[0]['in'] == 3 else 'custom'
    return state_dict, f'maedet-{variant}', structure, dropped


def convert(source: Dict[str, torch.Tensor]) -> Tuple[Dict[str, torch.Tensor], str]:
    """:func:`convert_detector`, printing what was kept and dropped."""
    state_dict, variant, structure, dropped = convert_detector(source)
    parts = OrderedDict((part, 0) for part in ('backbone', 'neck', 'bbox_head'))
    for key in state_dict:
        parts[key.split('.')[0]] += 1
    print('kept: ' + ', '.join(f'{n} {part}.* tensors' for part, n in parts.items()))
    if dropped:
        print(f'dropped {len(dropped)} GFLV2-only tensors (bbox_head.gfl_cls: 81 outputs scaled '
              f'by the DGQP quality; bbox_head.reg_conf: DGQP), our GFL V1 head initialises '
              f'them: {dropped}')
    if variant == 'maedet-custom':
        print('not MAE-DET-S/M/L; the structure read from the shapes (strides assumed 2), for '
              f'"arch" of mmext.MAEDet: {structure}')
    return state_dict, variant


if __name__ == '__main__':
    converter_main(convert, __doc__.splitlines()[0])
