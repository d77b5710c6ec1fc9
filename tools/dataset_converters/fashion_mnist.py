"""Prepare Fashion-MNIST for mmpretrain from Debian's ``dataset-fashion-mnist`` package.

The package ships the four IDX ``.gz`` files of Zalando's release. mmpretrain's ``FashionMNIST``
dataset reads the uncompressed IDX files from its ``data_root``, so this tool checks the sources'
SHA-256 and decompresses them into ``data/fashion_mnist`` (train 60k / test 10k, 10 classes).
Running it twice is harmless: files already in place with the right content are kept.

    python tools/dataset_converters/fashion_mnist.py [--src DIR] [--out data/fashion_mnist]
"""
import argparse
import gzip
import hashlib
import shutil
import sys
from pathlib import Path

SOURCE_DIR = '/usr/share/datasets/fashion-mnist'
INSTALL_HINT = 'sudo apt-get update && sudo apt-get install -y dataset-fashion-mnist'
# SHA-256 of the compressed files in dataset-fashion-mnist (Debian).
CHECKSUMS = {
    'train-images-idx3-ubyte.gz':
    'b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7',
    'train-labels-idx1-ubyte.gz':
    '0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056',
    't10k-images-idx3-ubyte.gz':
    'cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa',
    't10k-labels-idx1-ubyte.gz':
    '8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05',
}
CLASSES = ('T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker',
           'Bag', 'Ankle boot')


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def convert(src: Path, out: Path) -> None:
    missing = [name for name in CHECKSUMS if not (src / name).is_file()]
    if missing:
        sys.exit(f'Fashion-MNIST source files {missing} not found in {src}.\n'
                 f'Install them with:\n    {INSTALL_HINT}\n'
                 'or pass --src DIR holding the four IDX .gz files.')
    out.mkdir(parents=True, exist_ok=True)
    for name, expected in CHECKSUMS.items():
        actual = sha256(src / name)
        if actual != expected:
            sys.exit(f'Checksum mismatch for {src / name}: expected {expected}, got {actual}.')
        target = out / name[:-len('.gz')]
        stamp = target.with_suffix('.sha256')
        if target.is_file() and stamp.is_file() and stamp.read_text() == expected:
            continue
        with gzip.open(src / name, 'rb') as fin, open(target, 'wb') as fout:
            shutil.copyfileobj(fin, fout)
        stamp.write_text(expected)
        print(f'wrote {target}')
    (out / 'classes.txt').write_text('\n'.join(CLASSES) + '\n')
    print(f'Fashion-MNIST ready in {out} (60000 train / 10000 test images)')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--src', default=SOURCE_DIR, help='folder with the IDX .gz files')
    parser.add_argument('--out', default='data/fashion_mnist', help='output data_root')
    args = parser.parse_args(argv)
    convert(Path(args.src), Path(args.out))


if __name__ == '__main__':
    main()
