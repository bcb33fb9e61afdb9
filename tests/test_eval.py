"""svc_eval.py: the metrics on constructed cases, the optional judges, and one run of the CLI."""
import csv
import json
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from common.loudness import integrated_loudness
from common.metrics import MetricError, check_measurable, cosine, frame_cosine, pitch_agreement
from tests.svc_fixtures import TINY, smooth_features  # noqa: F401 (fixtures)

RATE = 16000
VOICE_A = dict(f0=220.0, formants=((700, 110), (1220, 90), (2600, 160)), tilt=1.0)    # an "ah", brighter
VOICE_B = dict(f0=110.0, formants=((300, 60), (2300, 120), (3000, 200)), tilt=2.2)    # an "ee", darker, lower


def sung_vowel(f0, formants, tilt, seconds=1.5, rate=RATE, note=0.0, seed=0):
    """A vowel-like harmonic tone with vibrato: harmonics shaped by formant resonances and a tilt."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    hz = f0 * 2 ** ((note + 0.25 * np.sin(2 * np.pi * 5.5 * t + rng.uniform(0, 6))) / 12)  # +-25 cents vibrato
    phase = 2 * np.pi * np.cumsum(hz) / rate
    wav = np.zeros_like(t)
    for k in range(1, int(4000 // f0) + 1):
        resonance = sum(1.0 / (1.0 + ((k * f0 - centre) / width) ** 2) for centre, width in formants)
        wav += (0.05 + resonance) / k ** tilt * np.sin(k * phase)
    wav += 0.003 * rng.standard_normal(len(t))
    fade = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.05)
    return (0.3 * wav * fade / np.abs(wav).max()).astype(np.float32)


@pytest.fixture(scope="module")
def pm_pitch():
    pytest.importorskip("parselmouth")
    from pitch.extractor import PitchExtractor

    return PitchExtractor(method="pm")


# -- pitch ------------------------------------------------------------------------------------

def test_pitch_error_in_cents_on_tracks():
    asked = np.full(200, 220.0)
    asked[150:] = 0.0                                  # the last 50 frames unvoiced
    sung = asked * 2 ** (100 / 1200)
    score = pitch_agreement(sung, asked)
    assert score.median_cents == pytest.approx(100.0) and score.mean_cents == pytest.approx(100.0)
    assert score.gross_rate == 1.0 and score.voicing_disagreement == 0.0 and score.frames == 150
    sung[:30] = 0.0                                    # 30 voiced frames left unsung
    half_off = sung.copy()
    half_off[30:90] = 220.0 * 2 ** (20 / 1200)
    score = pitch_agreement(half_off, asked)
    assert score.voicing_disagreement == pytest.approx(30 / 200) and score.frames == 120
    assert score.gross_rate == pytest.approx(0.5) and score.mean_cents == pytest.approx(60.0)
    # a bridged asked track (no zeros) takes the source's voicing as the mask
    bridged = np.full(200, 220.0)
    assert pitch_agreement(asked, bridged, asked_voiced=asked > 0).voicing_disagreement == 0.0
    silent = pitch_agreement(np.zeros(200), asked)     # nothing sung: no error figure, full disagreement
    assert np.isnan(silent.median_cents) and silent.voicing_disagreement == pytest.approx(0.75)


def test_shifted_copy_reports_100_cents(pm_pitch):
    source = sung_vowel(**VOICE_A)
    shifted = sung_vowel(**VOICE_A, note=1.0)          # the same performance, a semitone up
    f0, f0_up = pm_pitch.training(source), pm_pitch.training(shifted)
    against_source = pitch_agreement(f0_up, f0)
    assert abs(against_source.median_cents - 100.0) < 3.0 and against_source.gross_rate > 0.95
    asked = f0 * 2 ** (1 / 12)                         # what a --shift 1 conversion is asked to sing
    kept = pitch_agreement(f0_up, asked)
    assert kept.median_cents < 3.0 and kept.gross_rate < 0.02 and kept.voicing_disagreement < 0.05
    same = pitch_agreement(f0, f0)
    assert same.median_cents == 0.0 and same.voicing_disagreement == 0.0


# -- similarity -------------------------------------------------------------------------------

def test_identical_inputs_are_similar_1():
    ppg, vec, spk = smooth_features(100)
    assert cosine(spk, spk) == pytest.approx(1.0) and frame_cosine(ppg, ppg) == pytest.approx(1.0)
    assert frame_cosine(ppg, ppg[:-1]) == pytest.approx(1.0)  # a frame of rounding is cut
    assert frame_cosine(ppg, ppg[::-1]) < 0.9
    with pytest.raises(MetricError, match="all-zero"):
        cosine(spk, np.zeros_like(spk))
    with pytest.raises(MetricError, match="different encoders"):
        cosine(spk, spk[:100])


@pytest.fixture(scope="module")
def voices():
    """Two takes of voice A (other notes, other noise) and one of voice B."""
    return (sung_vowel(**VOICE_A, seconds=2.0), sung_vowel(**VOICE_A, seconds=2.0, note=2.0, seed=1),
            sung_vowel(**VOICE_B, seconds=2.0, seed=2))


def train_tiny_speaker_encoder(path, steps=10, crop=40):
    """A tiny speaker checkpoint (real layout) trained for a few steps to tell VOICE_A from VOICE_B,
    on takes other than the ones the test measures: random weights rank voices by chance."""
    from speaker.audio import melspectrogram
    from speaker.encoder import load_speaker_model
    from tests.tiny_speaker import make_checkpoint

    model = load_speaker_model(make_checkpoint(path)).train()
    takes = [[torch.from_numpy(melspectrogram(sung_vowel(**voice, note=note, seed=10 + i)))
              for i, note in enumerate((-1.0, 0.5, 3.0))] for voice in (VOICE_A, VOICE_B)]
    generator = torch.Generator().manual_seed(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)

    def embed(mels):  # two random crops of each take -> [6, 256] unit vectors
        starts = [int(torch.randint(0, len(m) - crop, (1,), generator=generator)) for m in mels for _ in range(2)]
        return model(torch.stack([mels[i // 2][s:s + crop] for i, s in enumerate(starts)]))

    for _ in range(steps):
        a, b = embed(takes[0]), embed(takes[1])
        loss = (a @ b.T).mean() - (a @ a.T).mean() - (b @ b.T).mean()  # apart across voices, together within
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    checkpoint = torch.load(path, weights_only=True)
    checkpoint["model"] = {k: v.detach() for k, v in model.state_dict().items()}
    torch.save(checkpoint, path)
    return path


@pytest.mark.slow
def test_our_encoder_same_voice_scores_higher(voices, tmp_path):
    from speaker.encoder import SpeakerEncoder

    encoder = SpeakerEncoder(train_tiny_speaker_encoder(tmp_path / "speaker.pth.tar"), device="cpu")
    a1, a2, b = (encoder(w) for w in voices)
    assert cosine(a1, encoder(voices[0])) == pytest.approx(1.0, abs=1e-6)
    assert cosine(a1, a2) > cosine(a1, b) + 0.2


def test_ge2e_same_voice_scores_higher(voices):
    pytest.importorskip("resemblyzer")
    from svc.eval_judges import Ge2eEncoder

    ge2e = Ge2eEncoder("cpu")
    a1, a2, b = (ge2e(w) for w in voices)
    assert cosine(a1, ge2e(voices[0])) == pytest.approx(1.0, abs=1e-5)
    assert cosine(a1, a2) > cosine(a1, b) + 0.05
    assert "torchaudio" not in sys.modules  # resemblyzer must not pull it in (ABI-broken here)


# -- quality ----------------------------------------------------------------------------------

def test_loudness_follows_bs1770():
    t = np.arange(48000 * 3) / 48000
    tone = np.sin(2 * np.pi * 997 * t)                 # BS.1770: a full-scale 997 Hz sine reads -3.01 LUFS
    assert integrated_loudness(tone, 48000) == pytest.approx(-3.01, abs=0.01)
    assert integrated_loudness(0.1 * tone, 48000) == pytest.approx(-23.01, abs=0.01)
    assert integrated_loudness(np.zeros(48000), 48000) == float("-inf")
    with pytest.raises(ValueError, match="0.4 s"):
        integrated_loudness(tone[:4800], 48000)


def test_loudness_agrees_with_pyloudnorm():
    pyloudnorm = pytest.importorskip("pyloudnorm")
    wav = np.concatenate([sung_vowel(**VOICE_A), 0.2 * sung_vowel(**VOICE_B)]).astype(np.float64)
    for rate in (16000, 32000):
        ours = integrated_loudness(wav, rate)
        assert ours == pytest.approx(pyloudnorm.Meter(rate).integrated_loudness(wav), abs=0.15)


@pytest.mark.slow  # the DNSMOS ONNX model
def test_dnsmos_prefers_the_clean_take():
    pytest.importorskip("speechmos")
    from svc.eval_judges import Dnsmos

    dnsmos = Dnsmos()
    clean = sung_vowel(**VOICE_A, seconds=3.0)
    noisy = clean + 0.1 * np.random.default_rng(0).standard_normal(len(clean)).astype(np.float32)
    (clean_ovrl, clean_p808), (noisy_ovrl, noisy_p808) = dnsmos(clean), dnsmos(noisy)
    assert 1.0 <= noisy_ovrl < clean_ovrl <= 5.0 and noisy_p808 < clean_p808
    assert "torchaudio" not in sys.modules
    # a clip of two windows is scored as their mean
    both = np.concatenate([np.resize(clean, dnsmos.window), np.resize(noisy, dnsmos.window)])
    np.testing.assert_allclose(dnsmos(both), ((clean_ovrl + noisy_ovrl) / 2, (clean_p808 + noisy_p808) / 2), rtol=1e-5)


# -- bad inputs -------------------------------------------------------------------------------

def test_silent_and_short_inputs_give_clear_errors():
    with pytest.raises(MetricError, match=r"song.wav: 0.20 s of audio.*at least 0.5 s"):
        check_measurable(sung_vowel(**VOICE_A, seconds=0.2), RATE, "song.wav")
    with pytest.raises(MetricError, match=r"quiet.wav: the audio is silent \(digital silence"):
        check_measurable(np.zeros(RATE), RATE, "quiet.wav")
    with pytest.raises(MetricError, match=r"hiss.wav: the audio is silent \(-80 dBFS"):
        check_measurable(1e-4 * np.ones(RATE), RATE, "hiss.wav")
    check_measurable(sung_vowel(**VOICE_A), RATE, "ok.wav")
    with pytest.raises(MetricError, match="no voiced frame"):
        pitch_agreement(np.full(100, 200.0), np.zeros(100))


# -- ranking and the CLI ----------------------------------------------------------------------

def test_summary_ranks_the_better_group_first():
    from svc.eval_report import format_table, summarise

    def row(model, cents, sim):
        return {"model": model, "setting": "s", "pitch_median_cents": cents, "spk_sim": sim, "lufs_out": -20.0}

    rows = [row("good", 10.0, 0.9), row("good", 20.0, 0.8), row("bad", 80.0, 0.3), row("bad", float("nan"), 0.4),
            row("tied", 15.0, 0.35)]
    summary = summarise(rows)
    assert [g["model"] for g in summary] == ["good", "tied", "bad"]
    # pitch: good and tied share places 1-2 (1.5 each), bad 3; similarity: good 1, bad and tied share 2-3
    assert [g["rank"] for g in summary] == [1.25, 2.0, 2.75]
    assert summary[2]["means"]["pitch_median_cents"] == 80.0  # nan outputs left out of the mean
    lines = format_table(summary, rows).splitlines()
    assert lines[0].split() == ["rank", "model", "setting", "n", "pitch_med", "spk_sim", "lufs_out"]
    assert lines[1].split() == ["lower", "higher"] and lines[2].split()[:2] == ["1.25", "good"]


def save_tiny_model(hp, path, seed):
    from common.checkpoint import save_checkpoint
    from vits.models import SynthesizerTrn

    torch.manual_seed(seed)
    net_g = SynthesizerTrn.from_hparams(hp)
    save_checkpoint({"model_g": net_g.state_dict(), "model_d": {}, "optim_g": {}, "optim_d": {}, "step": 1,
                     "epoch": 1, "hp_str": ""}, path)
    return path


@pytest.mark.slow
def test_cli_two_models_two_settings(hp, model_files, tmp_path, capsys):
    import svc_eval
    from svc.eval_report import ID_COLUMNS, METRICS
    from tests import tiny_hubert, tiny_speaker, tiny_whisper

    songs = tmp_path / "songs"
    songs.mkdir()
    sf.write(songs / "a.wav", sung_vowel(**VOICE_A, seconds=1.2), RATE)
    sf.write(songs / "quiet.wav", np.zeros(RATE, dtype=np.float32), RATE)   # skipped and reported
    np.save(tmp_path / "alice.spk.npy", smooth_features(10)[2])
    other = save_tiny_model(hp, tmp_path / "other_2.pt", seed=7)
    checkpoints = ["--whisper-checkpoint", str(tiny_whisper.make_checkpoint(tmp_path / "w.pt")),
                   "--hubert-checkpoint", str(tiny_hubert.make_checkpoint(tmp_path / "h.pt")),
                   "--speaker-checkpoint", str(tiny_speaker.make_checkpoint(tmp_path / "s.pth.tar"))]
    out = tmp_path / "eval"
    status = svc_eval.main(["--config", TINY, "--model", str(model_files[0]), str(other), "--spk",
                            str(tmp_path / "alice.spk.npy"), "--wave", str(songs), "--shift", "0", "12",
                            "--target-wave", str(songs / "a.wav"), "--pitch-method", "pm", "--device", "cpu",
                            "--out", str(out), *checkpoints])
    captured = capsys.readouterr()
    assert status == 0
    table = captured.out.splitlines()
    assert table[0].split()[:5] == ["rank", "model", "setting", "n", "pitch_med"]
    body = [line.split() for line in table[2:6]]
    assert sorted((cells[1], cells[2]) for cells in body) == sorted(
        (m, s) for m in ("sovits5.0.pth", "other_2.pt") for s in ("shift+0_ret0", "shift+12_ret0"))
    assert "quiet.wav" in captured.err and "silent" in captured.err

    with open(out / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    optional = {"ge2e_sim": "resemblyzer", "ge2e_leak": "resemblyzer", "dnsmos_ovrl": "speechmos",
                "dnsmos_p808": "speechmos"}
    from svc.eval_judges import installed

    expected = ID_COLUMNS + [m.key for m in METRICS if m.key not in optional or installed(optional[m.key])]
    assert list(rows[0]) == expected and len(rows) == 4
    assert {r["input"] for r in rows} == {str(songs / "a.wav")}
    for r in rows:
        assert -1.0 <= float(r["spk_sim"]) <= 1.0 and float(r["lufs_src"]) < 0
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["groups"]) == 4 and summary["skipped"][0]["input"].endswith("quiet.wav")
    assert summary["metrics"]["spk_sim"]["better"] == "higher"
    assert (out / "summary.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(SystemExit):                    # a missing model: one line naming it
        svc_eval.main(["--config", TINY, "--model", str(tmp_path / "missing.pth"),
                       "--spk", str(tmp_path / "alice.spk.npy"), "--wave", str(songs), "--out", str(out)])
    assert "missing.pth: model not found" in capsys.readouterr().err


# -- the trainer's validation figures ---------------------------------------------------------

def test_valid_metrics_pitch_and_speaker(pm_pitch, tmp_path):
    from omegaconf import OmegaConf

    from common.audio import resample
    from speaker.encoder import SpeakerEncoder
    from tests.tiny_speaker import make_checkpoint
    from vits.valid_metrics import ValidMetrics

    checkpoint = make_checkpoint(tmp_path / "speaker.pth.tar")
    hp = OmegaConf.create({"log": {"eval_pitch_method": "pm", "eval_speaker_checkpoint": str(checkpoint)}})
    metrics = ValidMetrics(hp, "cpu")
    wav16k = sung_vowel(**VOICE_A)
    wav32k = resample(wav16k, RATE, 32000)                # generated audio comes at the model's rate
    asked = pm_pitch.training(wav16k)
    spk = SpeakerEncoder(checkpoint, device="cpu")(resample(wav32k, 32000, RATE))
    same = metrics.measure(wav32k, 32000, asked, spk)
    assert same["pitch_cents"] < 3.0 and same["voicing"] < 0.05 and same["spk_sim"] == pytest.approx(1.0, abs=1e-5)
    off = metrics.measure(wav32k, 32000, asked * 2 ** (-1 / 12), -spk)  # asked a semitone lower, other voice
    assert abs(off["pitch_cents"] - 100.0) < 3.0 and off["spk_sim"] == pytest.approx(-1.0, abs=1e-5)
    means = ValidMetrics.mean([same, off, {}])
    assert means["pitch_cents"] == pytest.approx((same["pitch_cents"] + off["pitch_cents"]) / 2)
    assert metrics.measure(np.zeros_like(wav32k), 32000, asked, spk) == {"voicing": pytest.approx(
        np.mean(asked > 0))}                               # silence: no error figure, full voicing disagreement
    warnings = []
    quiet = ValidMetrics(OmegaConf.create({"log": {"eval_pitch_method": "", "eval_speaker_checkpoint": "no.pth"}}),
                         "cpu", warn=warnings.append)
    assert not quiet.enabled and "no.pth" in warnings[0]
