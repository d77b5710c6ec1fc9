import mmcv
import numpy as np
import pytest

from mmext.datasets.transforms import DomainShift


def test_contrast_by_hand_and_identity():
    img = np.array([[0, 100], [200, 100]], dtype=np.uint8)  # mean 100
    out = DomainShift(contrast=0.5)(dict(img=img.copy()))['img']
    assert out.dtype == np.uint8
    assert out.tolist() == [[50, 100], [150, 100]]
    assert (DomainShift()(dict(img=img.copy()))['img'] == img).all()


def test_rotation_matches_mmcv_and_noise_is_deterministic():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (28, 28), dtype=np.uint8)
    out = DomainShift(rotate=30.)(dict(img=img.copy()))['img']
    expected = np.clip(np.round(mmcv.imrotate(img.astype(np.float32), 30., border_value=0)), 0,
                       255).astype(np.uint8)
    assert (out == expected).all()
    shift = DomainShift(noise_std=25., seed=0)
    a = shift(dict(img=img.copy()))['img'].astype(float)
    b = shift(dict(img=img.copy()))['img'].astype(float)
    assert (a == b).all()
    # noise of the right size (clipping at 0/255 shrinks it a little)
    assert 15 < np.std(a - img) < 27
    c = DomainShift(noise_std=25., seed=1)(dict(img=img.copy()))['img']
    assert (c != a).any()


def test_errors_and_registry():
    with pytest.raises(ValueError, match='"noise_std" must be >= 0'):
        DomainShift(noise_std=-1.)
    with pytest.raises(ValueError, match='"contrast" must be >= 0'):
        DomainShift(contrast=-0.5)
    from mmext.registry import TRANSFORMS
    assert isinstance(TRANSFORMS.build(dict(type='DomainShift', rotate=10.)), DomainShift)
