"""Extract the student from an ``mmext.Distiller`` checkpoint.

    python tools/model_converters/extract_student.py CKPT OUT

The output holds only the ``student.*`` weights with the prefix removed (no teacher, no
distillation connectors / generators), so the student's own config loads it, e.g.
``python tools/test.py configs/.../student_config.py OUT``.
"""
import argparse
import os
import os.path as osp
from collections import OrderedDict
from typing import Optional

import torch

PREFIX = 'student.'


def extract_student(src: str, dst: str) -> int:
    """Write the student's weights of the distiller checkpoint ``src`` to ``dst``.

    Args:
        src (str): Distiller checkpoint (``state_dict`` with ``student.`` keys).
        dst (str): Output path.

    Returns:
        int: Number of tensors written.
    """
    if not osp.isfile(src):
        raise FileNotFoundError(f'checkpoint not found: {src}')
    # mmengine checkpoints also pickle the message hub / meta: not weights-only loadable
    ckpt = torch.load(src, map_location='cpu', weights_only=False)
    state = ckpt.get('state_dict', ckpt)
    student = OrderedDict(
        (k[len(PREFIX):], v) for k, v in state.items() if k.startswith(PREFIX))
    if not student:
        raise ValueError(f'{src} has no "{PREFIX}*" weights: not an mmext.Distiller checkpoint')
    meta: Optional[dict] = ckpt.get('meta') if isinstance(ckpt, dict) else None
    out = dict(state_dict=student, meta=dict(
        extracted_from=osp.abspath(src),
        epoch=(meta or {}).get('epoch'), iter=(meta or {}).get('iter')))
    os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
    torch.save(out, dst)
    return len(student)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Extract the student of a distiller checkpoint')
    parser.add_argument('ckpt', help='mmext.Distiller checkpoint')
    parser.add_argument('out', help='output checkpoint of the plain student')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    n = extract_student(args.ckpt, args.out)
    print(f'wrote {n} student tensors to {args.out}')


if __name__ == '__main__':
    main()
