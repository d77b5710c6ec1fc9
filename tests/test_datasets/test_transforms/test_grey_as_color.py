"""GreyAsColor: colour transforms on grey images, equal to the 3-channel result's first channel."""
import numpy as np
import pytest
from mmengine.registry import init_default_scope
from mmpretrain.registry import TRANSFORMS

import mmext  # noqa: F401

OPS = [
    dict(type='Contrast', magnitude=0.6, prob=1., random_negative_prob=0.),
    dict(type='Equalize', prob=1.),
    dict(type='AutoContrast', prob=1.),
    dict(type='ColorTransform', magnitude=0.5, prob=1.),
]


@pytest.mark.parametrize('op', OPS, ids=lambda op: op['type'])
@pytest.mark.parametrize('shape', [(40, 30), (40, 30, 1)])
def test_matches_three_channel_result(op, shape):
    init_default_scope('mmpretrain')
    rng = np.random.default_rng(0)
    grey = rng.integers(20, 200, size=shape, dtype=np.uint8)
    wrapped = TRANSFORMS.build(dict(type='mmext.GreyAsColor', transforms=[op]))
    out = wrapped(dict(img=grey.copy()))['img']
    assert out.shape == grey.shape and out.dtype == np.uint8
    color = np.repeat(grey.reshape(40, 30, 1), 3, axis=-1)
    ref = TRANSFORMS.build(op)(dict(img=color))['img']
    assert np.array_equal(out.reshape(40, 30), ref[..., 0])
    if op['type'] != 'ColorTransform':  # saturation leaves a grey image as it is
        assert not np.array_equal(out, grey)


def test_three_channel_input_passes_through():
    init_default_scope('mmpretrain')
    img = np.random.default_rng(1).integers(0, 255, size=(8, 8, 3), dtype=np.uint8)
    op = dict(type='Contrast', magnitude=0.6, prob=1., random_negative_prob=0.)
    out = TRANSFORMS.build(dict(type='mmext.GreyAsColor', transforms=[op]))(dict(img=img))
    assert np.array_equal(out['img'], TRANSFORMS.build(op)(dict(img=img.copy()))['img'])
