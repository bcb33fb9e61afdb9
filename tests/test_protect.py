import numpy as np
import pytest

from svc.protect import ProtectError, protect_blend, voicing_from_audio, voicing_from_f0


def test_protect_keeps_voiced_frames_and_pulls_unvoiced_ones_back_to_the_source():
    rng = np.random.default_rng(0)
    own = rng.standard_normal((40, 8)).astype(np.float32)
    retrieved = own + rng.standard_normal((40, 8)).astype(np.float32)   # what retrieval made of them
    voicing = np.repeat([1.0, 0.0, 1.0, 0.0], 10).astype(np.float32)
    off = protect_blend(own, retrieved, voicing, 0.5)
    on = protect_blend(own, retrieved, voicing, 0.0)
    some = protect_blend(own, retrieved, voicing, 0.25)
    voiced, unvoiced = voicing == 1, voicing == 0
    assert np.array_equal(off, retrieved)
    assert np.array_equal(on[voiced], off[voiced]) and np.array_equal(some[voiced], off[voiced])
    dist = {name: np.linalg.norm(x[unvoiced] - own[unvoiced]) for name, x in (("off", off), ("on", on), ("some", some))}
    assert dist["on"] < 1e-6 < dist["some"] < dist["off"]
    np.testing.assert_allclose(some[unvoiced], 0.25 * retrieved[unvoiced] + 0.75 * own[unvoiced], atol=1e-6)
    with pytest.raises(ProtectError, match="0.5"):
        protect_blend(own, retrieved, voicing, 0.7)


def test_voicing_is_high_on_a_sung_tone_and_low_on_breath_noise():
    sr = 16000
    t = np.arange(sr) / sr
    tone = 0.4 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 440 * t)
    breath = 0.05 * np.random.default_rng(1).standard_normal(sr)
    v = voicing_from_audio(np.concatenate([tone, breath, np.zeros(sr)]), 150)
    assert v.shape == (150,)
    assert v[5:45].min() > 0.9 and v[55:95].max() < 0.3 and v[105:].max() == 0
    f0 = np.r_[np.full(100, 220.0), np.zeros(100)]
    np.testing.assert_array_equal(voicing_from_f0(f0, 100), np.r_[np.ones(50), np.zeros(50)])
