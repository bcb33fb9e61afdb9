import numpy as np
import pytest

from svc.timbre_curves import SpeakerMix
from svc.timbre_mix import TimbreMixError, mix_timbres


@pytest.fixture
def singers(tmp_path):
    rng = np.random.default_rng(0)
    for name in ("a", "b", "c"):
        np.save(tmp_path / f"{name}.spk.npy", rng.standard_normal(16).astype(np.float32))
    return tmp_path


def test_yaml_curves_become_convex_frame_weights(singers):
    (singers / "mix.yaml").write_text("a.spk.npy: [[0, 1.0], [1.0, 0.0]]\nb.spk.npy: [[0, 0.0], [1.0, 3.0]]\n")
    mix = SpeakerMix(singers / "mix.yaml")
    vecs = mix.frames(150, 100)                                   # 1.5 s at 100 frames/s
    a, b = (np.load(singers / f"{n}.spk.npy").astype(np.float64) for n in "ab")
    np.testing.assert_allclose(vecs[0], a, atol=1e-6)             # only a at 0 s
    np.testing.assert_allclose(vecs[120], b, atol=1e-6)           # only b after 1 s (held)
    np.testing.assert_allclose(vecs[50], (0.5 * a + 1.5 * b) / 2.0, atol=1e-6)  # weights 0.5, 1.5 -> 1/4, 3/4


def test_csv_constant_mix_equals_the_static_mix(singers):
    (singers / "mix.csv").write_text("time,a.spk.npy,c.spk.npy\n0,0.3,0.9\n5,0.3,0.9\n")
    static, _ = mix_timbres([(str(singers / "a.spk.npy"), 0.3), (str(singers / "c.spk.npy"), 0.9)])
    vecs = SpeakerMix(singers / "mix.csv").frames(40, 100)
    assert vecs.shape == (40, 16)
    np.testing.assert_allclose(vecs, np.broadcast_to(static, vecs.shape), atol=1e-7)


def test_bad_mix_files_name_the_problem(singers):
    cases = {"neg.yaml": ("a.spk.npy: [[0, -1.0]]\n", "negative"),
             "back.yaml": ("a.spk.npy: [[1, 1.0], [0, 0.5]]\n", "backwards"),
             "zero.yaml": ("a.spk.npy: [[0, 1.0], [1, 0.0]]\n", "every weight is 0 at 1.00 s"),
             "missing.yaml": ("nobody.spk.npy: 1.0\n", "not found"),
             "head.csv": ("t,a.spk.npy\n0,1\n", "header")}
    for name, (text, message) in cases.items():
        (singers / name).write_text(text)
        with pytest.raises(TimbreMixError, match=message):
            SpeakerMix(singers / name).frames(200, 100)
