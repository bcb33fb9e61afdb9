"""Conversion controls on the tiny model: dynamic timbre, protect, loudness mix."""
import numpy as np
import pytest
import torch

from svc.convert import Features, SvcConverter
from svc.settings import ConversionSettings as Settings
from svc.timbre_curves import SpeakerMix
from tests.svc_fixtures import HOP, smooth_features


@pytest.fixture(scope="module")
def converter(hp, model_files):  # noqa: F811
    conv = SvcConverter(hp, model_files[0], Settings(device="cpu", no_noise=True, seed=4, chunk_seconds=1.0,
                                                     overlap_seconds=0.2, progress=False))
    # the random tiny model starts with a speaker-blind adapter and an upsampling path too weak
    # to be heard over the NSF source: give both a say, so that the speaker vector matters
    torch.manual_seed(1)
    with torch.no_grad():
        for layer in (conv.model.dec.adapter.W_scale, conv.model.dec.adapter.W_bias):
            layer.weight.normal_(0.0, 0.2)
        for up in conv.model.dec.ups:
            up.weight.mul_(10.0)
    return conv


@pytest.fixture
def singers(tmp_path):
    rng = np.random.default_rng(3)
    vectors = {}
    for name in ("a", "b"):
        vec = rng.standard_normal(256).astype(np.float32)
        vectors[name] = vec / np.linalg.norm(vec)
        np.save(tmp_path / f"{name}.spk.npy", vectors[name])
    return tmp_path, vectors


def test_constant_dynamic_mix_equals_the_static_vector(converter, singers):
    from svc.timbre_mix import mix_timbres

    folder, _ = singers
    frames = 240                                      # 2.4 s: three chunks, so the per-frame slices are tested
    ppg, vec, _ = smooth_features(frames, seed=2)
    f0 = (200 + 30 * np.sin(np.arange(frames) / 20)).astype(np.float32)
    (folder / "mix.yaml").write_text("a.spk.npy: 0.3\nb.spk.npy: [[0, 0.7], [5, 0.7]]\n")
    static, _ = mix_timbres([(str(folder / "a.spk.npy"), 0.3), (str(folder / "b.spk.npy"), 0.7)])
    want = converter.convert(static, given=Features(ppg, vec, f0))
    got = converter.convert(SpeakerMix(folder / "mix.yaml"), given=Features(ppg, vec, f0))
    assert np.abs(want).max() > 1e-3
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_timbre_moves_from_one_singer_to_the_other(converter, singers):
    folder, vectors = singers
    frames = 240
    ppg, vec, _ = smooth_features(frames, seed=5)
    f0 = np.full(frames, 220.0, dtype=np.float32)
    (folder / "fade.csv").write_text("time,a.spk.npy,b.spk.npy\n1.1,1,0\n1.3,0,1\n")
    moving = converter.convert(SpeakerMix(folder / "fade.csv"), given=Features(ppg, vec, f0))
    only_a, only_b = (converter.convert(vectors[n], given=Features(ppg, vec, f0)) for n in "ab")
    early, late = slice(0, 80 * HOP), slice(160 * HOP, None)
    apart = np.abs(only_a - only_b)
    assert apart.max() > 0.01 * np.abs(only_a).max()                # the singers do sound different
    assert np.abs(moving[early] - only_a[early]).max() < 0.05 * apart[early].max()
    assert np.abs(moving[late] - only_b[late]).max() < 0.05 * apart[late].max()


def sung_then_breath(seconds_each=0.6, sr=16000):
    t = np.arange(int(seconds_each * sr)) / sr
    tone = 0.4 * np.sin(2 * np.pi * 220 * t) * (0.3 + 0.7 * t / t[-1])       # a crescendo
    breath = 0.03 * np.random.default_rng(0).standard_normal(len(t))
    return np.concatenate([tone, breath]).astype(np.float32)


def test_protect_keeps_the_source_content_of_unvoiced_frames(converter, monkeypatch):
    wav16k = sung_then_breath()
    frames = len(wav16k) // 320
    ppg, vec, spk = smooth_features(2 * frames, seed=7)
    given = converter.gather(wav16k, Features(ppg[:frames], vec[:frames], np.full(2 * frames, 220.0, np.float32)))
    monkeypatch.setattr(converter, "retrieval", lambda p, v: (p + 1.0, v - 1.0))  # moves every frame
    off = converter.prepare(spk, wav16k, given).ppg[::2]  # (50 Hz frames, repeated x2)
    monkeypatch.setattr(converter.settings, "protect", 0.0)
    on = converter.prepare(spk, wav16k, given).ppg[::2]
    ppg = ppg[:frames]
    sung, breath = slice(3, frames // 2 - 3), slice(frames // 2 + 3, frames - 3)
    np.testing.assert_array_equal(on[sung], off[sung])
    np.testing.assert_allclose(on[breath], ppg[breath], atol=1e-3)
    np.testing.assert_allclose(off[breath], ppg[breath] + 1.0)


def test_loudness_mix_follows_the_source_dynamics(converter, monkeypatch):
    from common.loudness import window_levels

    wav16k = sung_then_breath()[:9600]
    frames = 2 * (len(wav16k) // 320)
    ppg, vec, spk = smooth_features(frames, seed=8)
    f0 = np.full(frames, 220.0, dtype=np.float32)
    with monkeypatch.context() as patch:
        patch.setattr(converter.settings, "loudness_mix", 1.0)
        out = converter.convert(spk, wav16k, Features(ppg, vec, f0))
    plain = converter.convert(spk, wav16k, Features(ppg, vec, f0))
    want = window_levels(wav16k, 16000)
    assert np.abs(window_levels(plain, converter.rate) - want).max() > 5
    assert np.abs(window_levels(out, converter.rate) - want).max() < 1.0


def test_cli_flags_reach_the_conversion(model_files, singers, capsys):  # noqa: F811
    import soundfile as sf

    import svc_inference
    from common.loudness import window_levels
    from pitch.csv_io import write_f0_csv
    from tests.svc_fixtures import TINY

    folder, _ = singers
    t = np.arange(16000) / 16000
    sf.write(folder / "in.wav", (0.3 * np.sin(2 * np.pi * 200 * t) * np.minimum(1, 4 * t)).astype(np.float32), 16000)
    ppg, vec, _ = smooth_features(100)
    np.save(folder / "in.ppg.npy", ppg)
    np.save(folder / "in.vec.npy", vec)
    write_f0_csv(folder / "in.csv", np.full(100, 200.0, dtype=np.float32))
    (folder / "mix.csv").write_text("time,a.spk.npy,b.spk.npy\n0,1,0\n1,0,1\n")
    base = ["--config", TINY, "--model", str(model_files[0]), "--wave", str(folder / "in.wav"), "--ppg",
            str(folder / "in.ppg.npy"), "--vec", str(folder / "in.vec.npy"), "--pit", str(folder / "in.csv"),
            "--device", "cpu", "--seed", "0", "--no-noise"]
    out = folder / "out.wav"
    assert svc_inference.main(base + ["--spk-mix", str(folder / "mix.csv"), "--loudness-mix", "1",
                                      "--out", str(out)]) == 0
    wav, sr = sf.read(out)
    source = sf.read(folder / "in.wav")[0]
    assert len(wav) == 32000
    assert np.abs(window_levels(wav, sr) - window_levels(source, 16000)).max() < 1.0
    for extra, message in ((["--spk", str(folder / "a.spk.npy"), "--spk-mix", str(folder / "mix.csv")], "one of the two"),
                           (["--spk", str(folder / "a.spk.npy"), "--protect", "0.3"], "--enable-retrieval"),
                           (["--spk", str(folder / "a.spk.npy"), "--loudness-mix", "2"], "[0, 1]"),
                           (["--spk-mix", str(folder / "a.spk.npy")], ".yaml, .yml or .csv")):
        with pytest.raises(SystemExit) as stop:
            svc_inference.main(base + extra + ["--out", str(folder / "bad.wav")])
        err = capsys.readouterr().err
        assert stop.value.code == 1 and message in err and "Traceback" not in err
        assert not (folder / "bad.wav").exists()
