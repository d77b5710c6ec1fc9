"""Write instance-dependent noisy labels (IDN) for the Fashion-MNIST training set.

Standard IDN generation of Xia et al., "Part-dependent Label Noise: Towards Instance-dependent
Label Noise" (NeurIPS 2020), used by the label-noise benchmarks that "Tackling Instance-Dependent
Label Noise with Dynamic Distribution Calibration" (arXiv 2210.05126) compares with:

1. every sample draws its flip rate ``q_i`` from a normal ``N(rate, 0.1^2)`` truncated to
   ``[0, 1]``;
2. every class ``c`` draws a random projection ``W_c ~ N(0, 1)`` of shape ``(784, 10)``;
3. a sample ``x`` (normalised pixels) of label ``y`` gets scores ``p = x W_y``, the true class is
   masked, ``p = q_i * softmax(p)`` on the other classes and ``p_y = 1 - q_i``;
4. the noisy label is drawn from ``p``.

The result is an ``.npy`` array of 60,000 int64 labels, read by the ``mmext.NoisyLabelFashionMNIST``
dataset (``noisy_label_file``)::

    python tools/dataset_converters/label_noise.py --rate 0.2 --seed 0
    # -> data/fashion_mnist/noisy_labels/idn-0.2_seed0.npy
"""
import argparse
from pathlib import Path
from typing import Tuple

import numpy as np

NUM_CLASSES = 10
# mean / std of Fashion-MNIST training pixels on the [0, 1] scale (the normalisation of step 3)
PIXEL_MEAN, PIXEL_STD = 0.2860, 0.3530


def read_idx(path: Path) -> np.ndarray:
    """Read an uncompressed IDX file (images ``(N, 28, 28)`` or labels ``(N, )``, uint8)."""
    raw = path.read_bytes()
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], 'big') for i in range(ndim))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def truncated_normal(rng: np.random.Generator, mean: float, std: float, size: int,
                     low: float = 0., high: float = 1.) -> np.ndarray:
    """Exact truncated normal on ``[low, high]`` by rejection (cheap for the rates used)."""
    out = np.empty(0)
    while out.size < size:
        draw = rng.normal(mean, std, size=2 * size)
        out = np.concatenate([out, draw[(draw >= low) & (draw <= high)]])
    return out[:size]


def instance_dependent_noise(images: np.ndarray, labels: np.ndarray, rate: float, seed: int = 0,
                             std: float = 0.1) -> Tuple[np.ndarray, np.ndarray]:
    """Corrupt ``labels`` with IDN of mean flip rate ``rate``.

    Args:
        images (np.ndarray): ``(N, H, W)`` uint8 images.
        labels (np.ndarray): ``(N, )`` clean labels.
        rate (float): Mean flip rate in ``[0, 1)``.
        seed (int): Random seed. Defaults to 0.
        std (float): Std of the per-sample flip-rate normal. Defaults to 0.1 (Xia et al.).

    Returns:
        tuple[np.ndarray, np.ndarray]: noisy labels ``(N, )`` int64 and the transition
        probabilities ``(N, C)`` they were drawn from.
    """
    if not 0. <= rate < 1.:
        raise ValueError(f'"rate" must be in [0, 1), got {rate}')
    rng = np.random.default_rng(seed)
    n = labels.shape[0]
    x = (images.reshape(n, -1).astype(np.float64) / 255. - PIXEL_MEAN) / PIXEL_STD
    flip = truncated_normal(rng, rate, std, n)
    proj = rng.normal(0., 1., size=(NUM_CLASSES, x.shape[1], NUM_CLASSES))
    scores = np.empty((n, NUM_CLASSES))
    for c in range(NUM_CLASSES):
        idx = labels == c
        scores[idx] = x[idx] @ proj[c]
    rows = np.arange(n)
    scores[rows, labels] = -np.inf  # the flip mass goes to the other classes only
    scores -= scores.max(axis=1, keepdims=True)
    prob = np.exp(scores)
    prob = flip[:, None] * prob / prob.sum(axis=1, keepdims=True)
    prob[rows, labels] = 1. - flip
    # inverse-CDF sampling of one label per row
    u = rng.random(n)[:, None]
    noisy = (prob.cumsum(axis=1) < u).sum(axis=1).clip(max=NUM_CLASSES - 1)
    return noisy.astype(np.int64), prob


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rate', type=float, required=True, help='mean flip rate, e.g. 0.2')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--data-root', default='data/fashion_mnist',
                        help='folder with the uncompressed IDX files')
    parser.add_argument('--out', default=None,
                        help='output .npy (default DATA_ROOT/noisy_labels/idn-RATE_seedSEED.npy)')
    args = parser.parse_args()
    root = Path(args.data_root)
    images = read_idx(root / 'train-images-idx3-ubyte')
    labels = read_idx(root / 'train-labels-idx1-ubyte').astype(np.int64)
    noisy, _ = instance_dependent_noise(images, labels, args.rate, args.seed)
    out = Path(args.out) if args.out else \
        root / 'noisy_labels' / f'idn-{args.rate:g}_seed{args.seed}.npy'
    out.parent.mkdir(parents=True, exist_ok=True)
    np.save(out, noisy)
    print(f'wrote {out}: {len(noisy)} labels, actual noise rate '
          f'{(noisy != labels).mean():.4f} (requested {args.rate})')


if __name__ == '__main__':
    main()
