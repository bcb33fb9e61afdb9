"""svc_merge.py, svc_eva.py, svc_inference_post.py and their libraries."""
import os
from collections import OrderedDict

import numpy as np
import pytest
import soundfile as sf
import torch

from common.checkpoint import CheckpointError, save_checkpoint
from svc.merge import check_rate, merge_files, merge_models
from svc.timbre_mix import TimbreMixError, mix_timbres, parse_weighted_items, read_weight_yaml
from svc.vad import mask_to_gain, silence_unvoiced, voice_mask



class Run:
    def __init__(self, returncode, stderr):
        self.returncode, self.stderr = returncode, stderr


def run_script(name, *args):
    """Run a root script's main() in-process (no interpreter start-up); returns code and stderr."""
    import contextlib
    import importlib
    import io

    module = importlib.import_module(name[:-3])
    err = io.StringIO()
    code = 0
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            module.main([str(a) for a in args])
        except SystemExit as stop:
            code = stop.code
    return Run(code, err.getvalue())


def fake_generator(seed, training=True):
    g = torch.Generator().manual_seed(seed)
    sd = OrderedDict()
    sd["enc_p.pre.weight"] = torch.randn(4, 3, 5, generator=g)
    sd["dec.ups.0.weight_g"] = torch.rand(4, 1, 1, generator=g)
    sd["dec.ups.0.weight_v"] = torch.randn(4, 2, 3, generator=g)
    if training:
        sd["emb_g.weight"] = torch.randn(2, 2, generator=g)
        sd["enc_q.pre.bias"] = torch.randn(3, generator=g)
    return sd


def save_training(path, seed):
    save_checkpoint({"model_g": fake_generator(seed), "model_d": {"d.w": torch.full((2,), float(seed))},
                     "optim_g": {}, "optim_d": {}, "step": 1, "epoch": 1, "hp_str": ""}, path)
    return path


def test_merge_is_rate_weighted_sum_and_keeps_training_layout(tmp_path):
    a, b = save_training(tmp_path / "a.pt", 1), save_training(tmp_path / "b.pt", 2)
    out = tmp_path / "m.pth"
    assert merge_models(a, b, 0.4, out) == []
    merged = torch.load(out, weights_only=True)
    ga, gb = fake_generator(1), fake_generator(2)
    assert list(merged["model_g"]) == list(ga)
    for key in ga:
        torch.testing.assert_close(merged["model_g"][key], 0.4 * ga[key] + 0.6 * gb[key])
    torch.testing.assert_close(merged["model_d"]["d.w"], torch.full((2,), 0.4 * 1 + 0.6 * 2))
    assert set(merged) == {"model_g", "model_d"}


def test_merge_exported_with_training_gives_exported(tmp_path):
    a = save_training(tmp_path / "a.pt", 1)
    b = tmp_path / "b.pth"
    save_checkpoint({"model_g": fake_generator(2, training=False)}, b)
    merged, notes = merge_files(a, b, 1.0)
    assert notes and set(merged) == {"model_g"}
    assert list(merged["model_g"]) == list(fake_generator(2, training=False))
    torch.testing.assert_close(merged["model_g"]["enc_p.pre.weight"], fake_generator(1)["enc_p.pre.weight"])


def test_merge_errors(tmp_path):
    a = save_training(tmp_path / "a.pt", 1)
    odd = fake_generator(2)
    odd["enc_p.extra"] = torch.zeros(1)
    save_checkpoint({"model_g": odd}, tmp_path / "keys.pth")
    with pytest.raises(CheckpointError, match="only in"):
        merge_files(a, tmp_path / "keys.pth", 0.5)
    shaped = fake_generator(2)
    shaped["enc_p.pre.weight"] = torch.zeros(4, 3, 3)
    save_checkpoint({"model_g": shaped}, tmp_path / "shape.pth")
    with pytest.raises(CheckpointError, match="different shapes"):
        merge_files(a, tmp_path / "shape.pth", 0.5)
    save_checkpoint({"state_dict": {}}, tmp_path / "foreign.pth")
    with pytest.raises(CheckpointError, match="model_g"):
        merge_files(a, tmp_path / "foreign.pth", 0.5)
    with pytest.raises(CheckpointError, match="not found"):
        merge_files(a, tmp_path / "missing.pth", 0.5)
    for rate in (-0.1, 1.5):
        with pytest.raises(ValueError, match="outside"):
            check_rate(rate)


def test_merge_cli(tmp_path):
    a, b = save_training(tmp_path / "a.pt", 1), save_training(tmp_path / "b.pt", 2)
    ok = run_script("svc_merge.py", "--model1", a, "--model2", b, "--rate", 0.5, "--out", tmp_path / "m.pth")
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "m.pth").is_file()
    bad = run_script("svc_merge.py", "--model1", a, "--model2", b, "--rate", 2, "--out", tmp_path / "n.pth")
    assert bad.returncode == 1 and "outside [0, 1]" in bad.stderr and "Traceback" not in bad.stderr


def write_spk(path, values):
    np.save(path, np.asarray(values, dtype=np.float32))
    return str(path)


def test_eva_weighted_mean_and_normalisation(tmp_path):
    a = write_spk(tmp_path / "a.spk.npy", [1.0, 0.0, 2.0])
    b = write_spk(tmp_path / "b.spk.npy", [0.0, 1.0, 4.0])
    mixed, notes = mix_timbres([(a, 0.25), (b, 0.75)])
    np.testing.assert_allclose(mixed, [0.25, 0.75, 3.5], rtol=1e-6)
    assert notes == []
    mixed2, notes2 = mix_timbres([(a, 1), (b, 3)])
    np.testing.assert_allclose(mixed2, mixed, rtol=1e-6)
    assert "normalised" in notes2[0]
    assert mixed.dtype == np.float32


def test_eva_inputs(tmp_path):
    a = write_spk(tmp_path / "a.spk.npy", [1.0, 2.0])
    assert parse_weighted_items([f"{a}:0.5"]) == [(a, 0.5)]
    (tmp_path / "w.yaml").write_text("a.spk.npy: 0.3\n")
    assert read_weight_yaml(tmp_path / "w.yaml") == [(a, 0.3)]
    with pytest.raises(TimbreMixError, match="FILE:WEIGHT"):
        parse_weighted_items([a])
    with pytest.raises(TimbreMixError, match="not a number"):
        parse_weighted_items([f"{a}:half"])
    with pytest.raises(TimbreMixError, match=">= 0"):
        mix_timbres([(a, -1.0)])
    with pytest.raises(TimbreMixError, match="all weights are zero"):
        mix_timbres([(a, 0.0), (a, 0.0)])
    c = write_spk(tmp_path / "c.spk.npy", [1.0, 2.0, 3.0])
    with pytest.raises(TimbreMixError, match="shape"):
        mix_timbres([(a, 0.5), (c, 0.5)])
    with pytest.raises(TimbreMixError, match="not found"):
        mix_timbres([(str(tmp_path / "nope.npy"), 1.0)])


def test_eva_cli(tmp_path):
    a = write_spk(tmp_path / "a.spk.npy", [1.0, 0.0])
    b = write_spk(tmp_path / "b.spk.npy", [0.0, 1.0])
    out = tmp_path / "eva.spk.npy"
    ok = run_script("svc_eva.py", f"{a}:0.5", f"{b}:0.5", "-o", out)
    assert ok.returncode == 0, ok.stderr
    np.testing.assert_allclose(np.load(out), [0.5, 0.5])
    bad = run_script("svc_eva.py", f"{a}:0", f"{b}:0", "-o", out)
    assert bad.returncode == 1 and "all weights are zero" in bad.stderr


def sung_with_gaps(sr=16000):
    """0.5 s silence, 1 s tone, 0.5 s near-silence, 0.6 s noise burst, 0.4 s silence."""
    rng = np.random.default_rng(0)
    t = np.arange(sr) / sr
    parts = [np.zeros(sr // 2), 0.5 * np.sin(2 * np.pi * 220 * t), 1e-5 * rng.standard_normal(sr // 2),
             0.2 * rng.standard_normal(int(0.6 * sr)), np.zeros(int(0.4 * sr))]
    return np.concatenate(parts).astype(np.float32)


def test_vad_marks_voice_with_hangover_and_periodicity():
    wav = sung_with_gaps()
    mask = voice_mask(wav, 16000, preroll_ms=0, hangover_ms=100)
    assert not mask[:45].any() and mask[55:145].all()       # tone at 0.5..1.5 s
    assert mask[150:158].all() and not mask[165:195].any()  # 100 ms hangover, then silence
    assert mask[205:255].all()                               # noise burst counts by energy
    pitched_only = voice_mask(wav, 16000, periodicity=True, preroll_ms=0, hangover_ms=100)
    assert pitched_only[55:145].all() and not pitched_only[205:255].any()


def test_gain_has_no_clicks_and_silences():
    mask = np.zeros(100, dtype=bool)
    mask[30:60] = True
    gain = mask_to_gain(mask, 32000, 32000, fade_ms=10)
    assert gain[:9000].max() == 0 and np.allclose(gain[10000:18500], 1)
    assert np.abs(np.diff(gain)).max() < 2.5 / 320  # ramps over ~10 ms, no step
    svc = np.ones(64000, dtype=np.float32)
    out = silence_unvoiced(sung_with_gaps(), 16000, svc, 32000, hangover_ms=50)
    assert len(out) == len(svc) and out[:14500].max() == 0 and np.allclose(out[16500:48000], 1)
    assert out[51000:62000].max() == 0  # 0.5 s gap after the tone + 50 ms hangover


def test_post_cli(tmp_path):
    sf.write(tmp_path / "ref.wav", sung_with_gaps(), 16000)
    sf.write(tmp_path / "svc.wav", np.full(96000, 0.5, dtype=np.float32), 32000)
    ok = run_script("svc_inference_post.py", "--ref", tmp_path / "ref.wav", "--svc", tmp_path / "svc.wav",
                    "--out", tmp_path / "post.wav", "--hard-gate")
    assert ok.returncode == 0, ok.stderr
    out, sr = sf.read(tmp_path / "post.wav")
    assert sr == 32000 and len(out) == 96000
    assert np.abs(out[:14000]).max() == 0 and np.abs(out[17000:48000] - 0.5).max() < 1e-3
    assert np.abs(out[54000:62000]).max() == 0 and np.abs(out[65000:83000] - 0.5).max() < 1e-3
    # the default soft gate turns the pauses down by 40 dB instead of zeroing them
    soft = run_script("svc_inference_post.py", "--ref", tmp_path / "ref.wav", "--svc", tmp_path / "svc.wav",
                      "--out", tmp_path / "soft.wav")
    assert soft.returncode == 0, soft.stderr
    out = sf.read(tmp_path / "soft.wav")[0]
    assert np.allclose(out[2000:12000], 0.005, atol=2e-4) and np.abs(out[17000:48000] - 0.5).max() < 1e-3
    mixed = run_script("svc_inference_post.py", "--ref", tmp_path / "ref.wav", "--svc", tmp_path / "svc.wav",
                       "--out", tmp_path / "x.wav", "--periodicity")
    assert mixed.returncode == 1 and "--hard-gate" in mixed.stderr
    bad = run_script("svc_inference_post.py", "--ref", tmp_path / "none.wav", "--svc", tmp_path / "svc.wav",
                     "--out", tmp_path / "p.wav")
    assert bad.returncode == 1 and "none.wav" in bad.stderr
