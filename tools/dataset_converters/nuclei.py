"""Prepare the StarDist nuclei microscopy image as detection (COCO) and segmentation (mmseg) data.

Source: ``stardist/data/images/img2d.tif`` (512x512 uint16 fluorescence image) and ``mask2d.tif``
(its instance labels, 125 nuclei) inside the ``stardist==0.9.2`` wheel, read straight from the
zip (no TensorFlow needed). Fetch the wheel once with::

    pip download --no-deps stardist==0.9.2 -d data/downloads

Layout written under ``--out`` (default ``data/nuclei``)::

    images/{train,val}/*.png            8-bit grey tiles
    masks/{train,val}/*.png             semantic masks: 0 background, 1 nucleus (mmseg)
    annotations/instances_{train,val}.json   COCO instances, one category 'nucleus' (mmdet)

The right quarter of the image (x >= 384) gives the 4 val tiles (128x128, non-overlapping); the
left three quarters give the train tiles (128x128 at stride 64, overlapping each other only), so no
val pixel is ever seen in training. Nuclei cut by a tile border are kept if at least
``MIN_AREA`` pixels remain. Running the tool twice rewrites the same files.
"""
import argparse
import hashlib
import io
import json
import sys
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

WHEEL_GLOB = 'stardist-0.9.2-*.whl'
DOWNLOAD_HINT = 'pip download --no-deps stardist==0.9.2 -d data/downloads'
MEMBERS = {
    'img': ('stardist/data/images/img2d.tif',
            'f9ccc1571b92c861ff87e28463068b43f61bd47357ed0503f711e5cd1eb97750'),
    'mask': ('stardist/data/images/mask2d.tif',
             '59ad5e820b7982ca9d13e946fa6e7f64e2714899e00a2ae6c69aa79aad53d46f'),
}
TILE = 128
TRAIN_STRIDE = 64
VAL_X0 = 384
MIN_AREA = 16
CLASSES = ('background', 'nucleus')


def read_source(wheel: Path):
    """Return (image uint16 HxW, instance labels HxW) after checking both members' SHA-256."""
    arrays = {}
    with zipfile.ZipFile(wheel) as zf:
        for key, (member, expected) in MEMBERS.items():
            data = zf.read(member)
            actual = hashlib.sha256(data).hexdigest()
            if actual != expected:
                sys.exit(f'Checksum mismatch for {member} in {wheel}: '
                         f'expected {expected}, got {actual}.')
            arrays[key] = np.array(Image.open(io.BytesIO(data)))
    return arrays['img'], arrays['mask']


def to_uint8(img: np.ndarray) -> np.ndarray:
    # Fluorescence intensities are long-tailed: clip at the 99.8th percentile before scaling.
    lo, hi = np.percentile(img, (0.0, 99.8))
    return (np.clip((img - lo) / max(hi - lo, 1e-6), 0, 1) * 255).round().astype(np.uint8)


def tile_origins(split: str, height: int, width: int):
    if split == 'val':
        xs = range(VAL_X0, width - TILE + 1, TILE)
        ys = range(0, height - TILE + 1, TILE)
    else:
        xs = range(0, VAL_X0 - TILE + 1, TRAIN_STRIDE)
        ys = range(0, height - TILE + 1, TRAIN_STRIDE)
    return [(y, x) for y in ys for x in xs]


def coco_instances(labels: np.ndarray, image_id: int, first_ann_id: int):
    """COCO annotations (bbox + compressed RLE) of every instance in a label tile."""
    from pycocotools import mask as mask_utils
    anns = []
    for inst in np.unique(labels):
        if inst == 0:
            continue
        binary = labels == inst
        area = int(binary.sum())
        if area < MIN_AREA:
            continue
        ys, xs = np.nonzero(binary)
        x0, y0 = int(xs.min()), int(ys.min())
        rle = mask_utils.encode(np.asfortranarray(binary.astype(np.uint8)))
        rle['counts'] = rle['counts'].decode('ascii')
        anns.append(
            dict(
                id=first_ann_id + len(anns),
                image_id=image_id,
                category_id=1,
                bbox=[x0, y0, int(xs.max()) - x0 + 1, int(ys.max()) - y0 + 1],
                area=area,
                segmentation=rle,
                iscrowd=0))
    return anns


def convert(wheel: Path, out: Path) -> None:
    from mmengine.utils import ProgressBar
    img, labels = read_source(wheel)
    img8 = to_uint8(img)
    height, width = img.shape
    for split in ('train', 'val'):
        (out / 'images' / split).mkdir(parents=True, exist_ok=True)
        (out / 'masks' / split).mkdir(parents=True, exist_ok=True)
        images, annotations = [], []
        origins = tile_origins(split, height, width)
        progress = ProgressBar(len(origins))
        for image_id, (y, x) in enumerate(origins, start=1):
            name = f'nuclei_y{y:03d}_x{x:03d}.png'
            window = (slice(y, y + TILE), slice(x, x + TILE))
            Image.fromarray(img8[window]).save(out / 'images' / split / name)
            Image.fromarray((labels[window] > 0).astype(np.uint8)).save(out / 'masks' / split / name)
            images.append(dict(id=image_id, file_name=name, width=TILE, height=TILE))
            annotations += coco_instances(labels[window], image_id, len(annotations) + 1)
            progress.update()
        coco = dict(
            images=images,
            annotations=annotations,
            categories=[dict(id=1, name='nucleus', supercategory='cell')])
        (out / 'annotations').mkdir(exist_ok=True)
        with open(out / 'annotations' / f'instances_{split}.json', 'w') as f:
            json.dump(coco, f)
        print(f'\n{split}: {len(images)} tiles, {len(annotations)} nucleus instances')
    print(f'nuclei data ready in {out}')


def find_wheel(path: str) -> Path:
    candidates = [Path(path)] if path else sorted(Path('data/downloads').glob(WHEEL_GLOB))
    if not candidates or not candidates[0].is_file():
        sys.exit(f'stardist 0.9.2 wheel not found ({path or "data/downloads/" + WHEEL_GLOB}).\n'
                 f'Fetch it with:\n    {DOWNLOAD_HINT}')
    return candidates[0]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--wheel', default='', help=f'path of the stardist wheel '
                        f'(default: data/downloads/{WHEEL_GLOB})')
    parser.add_argument('--out', default='data/nuclei', help='output data_root')
    args = parser.parse_args(argv)
    convert(find_wheel(args.wheel), Path(args.out))


if __name__ == '__main__':
    main()
