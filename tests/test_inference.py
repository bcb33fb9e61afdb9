"""svc_inference.py: feature handling, chunked conversion with crossfaded joins, errors."""
from dataclasses import replace

import numpy as np
import pytest
import soundfile as sf
import torch

from common.checkpoint import CheckpointError, save_checkpoint
from svc.chunking import Crossfade, chunk_weights, plan_chunks
from svc.conversion_run import convert_file
from svc.convert import Features, SvcConverter
from svc.feature_files import FeatureError
from svc.settings import ConversionSettings as Settings
from tests.svc_fixtures import HOP, TINY, smooth_features  # noqa: F401 (fixtures)


# -- the joiner ------------------------------------------------------------------------------

def test_plan_covers_input_with_even_overlapping_chunks():
    assert plan_chunks(100, 2500, 100) == [(0, 100)]
    plan = plan_chunks(7000, 2500, 100)
    assert plan[0][0] == 0 and plan[-1][1] == 7000 and len(plan) == 3
    for (s0, e0), (s1, e1) in zip(plan, plan[1:]):
        assert e0 - s1 == 100 and e1 - s1 <= 2500
    for i in range(len(plan)):  # the crossfade weights of all chunks sum to 1 everywhere
        assert chunk_weights(plan, i, HOP).shape == ((plan[i][1] - plan[i][0]) * HOP,)
    total = np.zeros(7000 * HOP)
    for i, (s, e) in enumerate(plan):
        total[s * HOP:e * HOP] += chunk_weights(plan, i, HOP)
    np.testing.assert_allclose(total, 1.0, atol=1e-12)
    with pytest.raises(ValueError):
        plan_chunks(7000, 200, 100)


def test_joiner_with_a_sine_generator_equals_single_pass():
    def sine(start, end):  # continues the same sine wherever a chunk starts
        n = np.arange(start * HOP, end * HOP)
        return np.sin(2 * np.pi * 220.0 * n / 32000.0)

    joined = Crossfade(5000, HOP, 1200, 100, progress=False)
    for start, end in joined:
        joined.add(sine(start, end))
    np.testing.assert_allclose(joined.result(), sine(0, 5000), atol=1e-6)


# -- conversion through SvcConverter with a stand-in model (fast, 70 s) ----------------------

class SineModel:
    """Stands in for SynthesizerInfer: the 'audio' is a sine at the pitch, plus a per-chunk offset
    (chunks that disagree), so a hard cut between chunks would show as a step."""

    def __init__(self):
        self.calls = []

    def pitch2source(self, f0, seed=None):
        phase = torch.cumsum(f0.repeat_interleave(HOP, dim=1) / 32000.0, dim=1)
        return torch.sin(2 * np.pi * phase)[:, None]                      # [1, 1, T * hop]

    def inference(self, ppg, vec, pit, spk, lengths, source, seed=None, noise_scale=1.0):
        self.calls.append(int(lengths[0]))
        offset = 0.05 * (len(self.calls) % 2)                             # disagreement between chunks
        return 0.5 * source + offset


def max_jump(wav, starts):
    """(largest sample step within 5 ms of the chunk starts, largest step elsewhere)."""
    steps = np.abs(np.diff(wav))
    near = np.zeros(len(steps), dtype=bool)
    for s in starts:
        near[max(0, s - 160):s + 160] = True
    return steps[near].max(), steps[~near].max()


def test_70s_converts_in_chunks_without_steps(hp, model_files):
    frames = 7000  # 70 s
    converter = SvcConverter(hp, model_files[0], Settings(device="cpu", progress=False))
    converter.model = SineModel()
    ppg, vec, spk = smooth_features(frames)
    f0 = np.full(frames, 220.0, dtype=np.float32)
    wav = converter.convert(spk, given=Features(ppg, vec, f0))
    assert wav.shape == (frames * HOP,) and wav.dtype == np.float32
    calls = converter.model.calls
    assert len(calls) == 3 and max(calls) <= 2500 and sum(calls) == frames + 2 * 100
    plan = plan_chunks(frames, converter.chunk_frames, converter.overlap_frames)
    starts = [s * HOP for s, _ in plan[1:]] + [e * HOP for e, _ in plan[:-1]]
    near, elsewhere = max_jump(wav, starts)
    assert near <= elsewhere * 1.05
    # a hard cut at the chunk borders would step by the 0.05 offset
    assert elsewhere < 0.05


def test_tiny_model_chunk_joins_match_single_pass(hp, model_files):
    frames = 300
    ppg, vec, spk = smooth_features(frames, seed=1)
    f0 = (200.0 + 20.0 * np.sin(np.arange(frames) / 30.0)).astype(np.float32)
    single = SvcConverter(hp, model_files[0], Settings(device="cpu", no_noise=True, seed=3, progress=False))
    whole = single.convert(spk, given=Features(ppg, vec, f0))
    chunked = SvcConverter(hp, model_files[0], Settings(device="cpu", no_noise=True, seed=3, chunk_seconds=1.2,
                                                        overlap_seconds=0.3, progress=False))
    pieces = chunked.convert(spk, given=Features(ppg, vec, f0))
    assert pieces.shape == whole.shape == (frames * HOP,)
    # the chunks see less context than one pass, yet the joined output stays within 1% of it
    assert np.abs(pieces - whole).max() < 0.01 * np.abs(whole).max()
    plan = plan_chunks(frames, chunked.chunk_frames, chunked.overlap_frames)
    assert len(plan) == 3
    starts = [s * HOP for s, _ in plan[1:]] + [e * HOP for e, _ in plan[:-1]]
    near, elsewhere = max_jump(pieces, starts)
    assert near <= 1.5 * elsewhere


def test_training_checkpoint_converts_like_exported(hp, model_files):
    ppg, vec, spk = smooth_features(60)
    f0 = np.full(60, 180.0, dtype=np.float32)
    outs = [SvcConverter(hp, path, Settings(device="cpu", no_noise=True, seed=5, progress=False)).convert(
        spk, given=Features(ppg, vec, f0)) for path in model_files]
    np.testing.assert_allclose(outs[0], outs[1], atol=1e-5)


# -- file-level conversion and its errors ----------------------------------------------------

def test_output_is_as_long_as_the_input(hp, model_files, feature_files, monkeypatch):
    import svc.conversion_run as cf

    f0 = np.full(125, 200.0, dtype=np.float32)
    monkeypatch.setattr(cf, "read_pitch_csv", lambda path: f0)
    d = feature_files
    wav = convert_file(TINY, model_files[0], d / "in.wav", d / "out.wav", Settings(spk=str(d / "singer.spk.npy"),
                       device="cpu", progress=False), ppg=d / "in.ppg.npy", vec=d / "in.vec.npy", pit="edited.csv")
    out, sr = sf.read(d / "out.wav", dtype="int16")
    assert sr == 32000 and len(out) == len(wav) == 40000  # 1.25 s exactly
    assert sf.info(d / "out.wav").subtype == "PCM_16"


def test_bad_inputs_give_clear_errors(hp, model_files, feature_files, monkeypatch):
    import svc.conversion_run as cf

    monkeypatch.setattr(cf, "read_pitch_csv", lambda path: np.full(125, 200.0, dtype=np.float32))
    d = feature_files
    good = dict(ppg=d / "in.ppg.npy", vec=d / "in.vec.npy", pit="p.csv")

    def run(model=model_files[0], spk=d / "singer.spk.npy", **changes):
        settings = Settings(spk=str(spk), device="cpu", progress=False)
        convert_file(TINY, model, d / "in.wav", d / "out.wav", settings, **{**good, **changes})

    np.save(d / "large.ppg.npy", np.zeros((62, 1280), dtype=np.float32))
    with pytest.raises(FeatureError, match=r"large.ppg.npy: PPG width is 1280 but the model expects 16.*Whisper"):
        run(ppg=d / "large.ppg.npy")
    np.save(d / "short.spk.npy", np.zeros(192, dtype=np.float32))
    with pytest.raises(FeatureError, match=r"short.spk.npy: speaker vector has 192 values .* expects 256"):
        run(spk=d / "short.spk.npy")
    np.save(d / "other.vec.npy", np.zeros((300, 256), dtype=np.float32))
    with pytest.raises(FeatureError, match=r"other.vec.npy: 600 frames .* another audio file"):
        run(vec=d / "other.vec.npy")
    with pytest.raises(CheckpointError, match=r"missing.pth"):
        run(model=d / "missing.pth")
    save_checkpoint({"net": {"w": torch.zeros(2)}}, d / "foreign.pth")
    with pytest.raises(CheckpointError, match=r"foreign.pth lacks model_g"):
        run(model=d / "foreign.pth")
    base_like = {"model_g": {"enc_p.pre.weight": torch.zeros(192, 1280, 5)}}
    save_checkpoint(base_like, d / "other_config.pth")
    with pytest.raises(CheckpointError, match=r"config"):
        run(model=d / "other_config.pth")
    assert not (d / "out.wav").exists()


def test_converts_raw_wav_with_tiny_extractors(hp, model_files, tmp_path, capsys):
    """PPG, units and CREPE-tiny pitch extracted in-process from a 44.1 kHz file; output as long as the input."""
    from tests import tiny_hubert, tiny_whisper

    whisper_ckpt = tiny_whisper.make_checkpoint(tmp_path / "whisper.pt")
    hubert_ckpt = tiny_hubert.make_checkpoint(tmp_path / "hubert.pt")
    seconds = 1.23
    t = np.arange(int(44100 * seconds)) / 44100
    sf.write(tmp_path / "song.wav", (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32), 44100, subtype="PCM_16")
    np.save(tmp_path / "singer.spk.npy", smooth_features(10)[2])
    settings = Settings(spk=str(tmp_path / "singer.spk.npy"), whisper_checkpoint=str(whisper_ckpt),
                        hubert_checkpoint=str(hubert_ckpt), pitch_method="crepe", crepe_model="tiny", device="cpu",
                        seed=0, no_noise=True, progress=False)
    wav = convert_file(TINY, model_files[0], tmp_path / "song.wav", tmp_path / "o.wav", settings)
    assert abs(len(wav) / 32000 - seconds) < 0.02 and len(wav) == round(seconds * 32000)
    assert "used: pitch extracted with crepe tiny, shift +0 semitones, no retrieval" in capsys.readouterr().err
    assert np.isfinite(wav).all() and np.abs(wav).max() > 0
    # a PPG extractor of another width than the config's ppg_dim is a clear error
    wide = tiny_whisper.make_checkpoint(tmp_path / "wide.pt", n_audio_state=32)
    with pytest.raises(FeatureError, match=r"wide.pt: PPG width is 32 but the model expects 16"):
        convert_file(TINY, model_files[0], tmp_path / "song.wav", None, replace(settings, whisper_checkpoint=str(wide)))


def test_cli_reports_one_clear_error(model_files, feature_files, capsys):
    import svc_inference

    d = feature_files
    np.save(d / "bad.spk.npy", np.zeros((3, 3), dtype=np.float32))
    with pytest.raises(SystemExit) as stop:
        svc_inference.main(["--config", TINY, "--model", str(model_files[0]), "--spk", str(d / "bad.spk.npy"),
                            "--wave", str(d / "in.wav"), "--ppg", str(d / "in.ppg.npy"), "--vec", str(d / "in.vec.npy"),
                            "--out", str(d / "o.wav"), "--device", "cpu"])
    err = capsys.readouterr().err
    assert stop.value.code == 1 and "bad.spk.npy" in err and "Traceback" not in err


def write_public_csv(path, f0, newline="\n"):
    """The pitch CSV of so-vits-svc-5.0 (`<m>m <s>s <ms>,<Hz>` per 10 ms frame), as Excel may save it."""
    lines = []
    for i, hz in enumerate(f0):
        ms = i * 10
        lines.append(f"{ms // 60000}m {ms % 60000 // 1000}s {ms % 1000:3d},{int(hz)}")
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(newline.join(lines) + newline)
    return path


def dominant_hz(wav, sr=32000):
    spectrum = np.abs(np.fft.rfft(wav * np.hanning(len(wav))))
    return np.fft.rfftfreq(len(wav), 1.0 / sr)[np.argmax(spectrum)]


def test_edited_csv_and_shift_move_the_pitch_fed_to_the_model(hp, model_files, feature_files, monkeypatch):
    from vits.models import SynthesizerInfer

    used = []
    original = SynthesizerInfer.pitch2source

    def recording(self, f0, seed=None):
        source = original(self, f0, seed=seed)
        used.append((f0[0].cpu().numpy().copy(), source[0, 0].cpu().numpy().copy()))
        return source

    monkeypatch.setattr(SynthesizerInfer, "pitch2source", recording)
    d = feature_files
    write_public_csv(d / "in.csv", np.full(125, 200))
    write_public_csv(d / "edited.csv", np.full(125, 400), newline="\r\n")  # saved again by a spreadsheet
    for pit, shift in (("in.csv", 0), ("edited.csv", 0), ("in.csv", 12)):
        settings = Settings(spk=str(d / "singer.spk.npy"), shift=shift, device="cpu", seed=0, progress=False)
        convert_file(TINY, model_files[0], d / "in.wav", None, settings, d / "in.ppg.npy", d / "in.vec.npy", d / pit)
    (f0_a, src_a), (f0_b, src_b), (f0_c, src_c) = used
    np.testing.assert_allclose(f0_a, 200.0)
    np.testing.assert_allclose(f0_b, 2 * f0_a)
    np.testing.assert_allclose(f0_c, 2 * f0_a, rtol=1e-6)
    assert abs(dominant_hz(src_a) - 200) < 5 and abs(dominant_hz(src_b) - 400) < 5


def test_bad_csv_row_names_file_and_line(hp, model_files, feature_files):
    from pitch.csv_io import F0CsvError

    d = feature_files
    write_public_csv(d / "bad.csv", np.full(125, 200))
    lines = (d / "bad.csv").read_text().splitlines()
    lines[2] = "0m 0s  20,two hundred"
    (d / "bad.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(F0CsvError, match=r"bad.csv") as error:
        convert_file(TINY, model_files[0], d / "in.wav", None, Settings(spk=str(d / "singer.spk.npy"), device="cpu",
                     progress=False), d / "in.ppg.npy", d / "in.vec.npy", d / "bad.csv")
    assert "3" in str(error.value)


@pytest.mark.slow  # a subprocess or a server: not in the quick loop
def test_side_by_side_extraction_equals_one_after_another(hp, model_files, tmp_path, monkeypatch):
    """With --fast on a CPU the missing features are extracted on separate single-threaded
    workers, Whisper's and HuBERT's chunks as separate jobs; they are the same features the
    extractors give one after another, Whisper's dither included (each chunk has its own
    generator, seeded in chunk order)."""
    from common import runtime
    from tests import tiny_hubert, tiny_whisper

    settings = Settings(whisper_checkpoint=str(tiny_whisper.make_checkpoint(tmp_path / "whisper.pt")),
                        hubert_checkpoint=str(tiny_hubert.make_checkpoint(tmp_path / "hubert.pt")),
                        pitch_method="crepe", crepe_model="tiny", fast=True, device="cpu", progress=False)
    monkeypatch.setattr("svc.convert.cpu_has_bf16", lambda: True)  # the --fast setting, on any CPU
    converter = SvcConverter(hp, model_files[0], settings)
    t = np.arange(16000 * 21) / 16000  # two chunks each for Whisper (15 s) and HuBERT (20 s)
    wav = (0.3 * np.sin(2 * np.pi * (220 + 40 * np.sin(t)) * t)).astype(np.float32)
    ran = []
    real_map = runtime.map_single_threaded
    monkeypatch.setattr("svc.convert.map_single_threaded",
                        lambda fns, workers=None: ran.append(len(list(fns))) or real_map(fns, workers))
    converter.load_extractors()  # building the networks draws from the global generator too
    torch.manual_seed(5)
    features = converter.gather(wav)
    assert ran == [5] and set(features.names) == {"f0", "ppg", "vec"}  # 2 + 2 chunks and the pitch
    torch.manual_seed(5)
    one_after_another = converter.whisper()(wav)
    torch.manual_seed(6)
    assert np.abs(converter.whisper()(wav) - features.ppg).max() > 0.05  # the dither shows (so the check below can fail)
    # (bf16 products may round differently on one thread than on several)
    np.testing.assert_allclose(features.ppg, one_after_another, rtol=1e-2, atol=1e-2)
    np.testing.assert_allclose(features.vec, converter.hubert()(wav), rtol=1e-2, atol=1e-2)
    np.testing.assert_allclose(features.f0, converter.source_pitch(wav)[0], rtol=1e-3)
    # only one feature missing, or not --fast: nothing runs side by side
    assert set(converter.extract(wav, ["f0"])) == {"f0"} and ran == [5]
    converter.settings.fast = False
    assert set(converter.extract(wav, ["f0", "ppg", "vec"])) == {"f0", "ppg", "vec"} and ran == [5]


def test_out_with_a_trailing_separator_is_a_new_folder(model_files, feature_files, monkeypatch, capsys):
    import svc.conversion_run as cf
    import svc_inference

    monkeypatch.setattr(cf, "read_pitch_csv", lambda path: np.full(125, 200.0, dtype=np.float32))
    d = feature_files
    assert svc_inference.main(["--config", TINY, "--model", str(model_files[0]), "--spk", str(d / "singer.spk.npy"),
                               "--wave", str(d / "in.wav"), "--ppg", str(d / "in.ppg.npy"), "--vec",
                               str(d / "in.vec.npy"), "--pit", "in.csv", "--device", "cpu",
                               "--out", str(d / "converted") + "/"]) == 0
    assert sf.info(d / "converted" / "in_svc.wav").frames == 40000
    assert f"-> {d / 'converted' / 'in_svc.wav'}" in capsys.readouterr().out


def test_spk_may_be_the_singers_audio(model_files, feature_files, tmp_path, monkeypatch, capsys):
    """--spk CLIP (or a folder of clips): the d-vector is made on the fly with the speaker encoder,
    --save-spk keeps it, and converting with the kept vector gives the same output."""
    import svc.conversion_run as cf
    import svc_inference
    from common.audio import load_audio
    from speaker.encoder import SpeakerEncoder
    from tests import tiny_speaker

    monkeypatch.setattr(cf, "read_pitch_csv", lambda path: np.full(125, 200.0, dtype=np.float32))
    d = feature_files
    encoder = tiny_speaker.make_checkpoint(tmp_path / "speaker.pt")
    clips = tmp_path / "alice"
    clips.mkdir()
    for i, hz in enumerate((180, 260)):
        t = np.arange(16000) / 16000
        sf.write(clips / f"take{i}.wav", (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32), 16000)
    base = ["--config", TINY, "--model", str(model_files[0]), "--wave", str(d / "in.wav"), "--ppg", str(d / "in.ppg.npy"),
            "--vec", str(d / "in.vec.npy"), "--pit", "in.csv", "--device", "cpu", "--seed", "0", "--no-noise",
            "--speaker-checkpoint", str(encoder)]
    assert svc_inference.main(base + ["--spk", str(clips / "take0.wav"), "--save-spk", str(d / "one.spk.npy"),
                                      "--out", str(d / "clip.wav")]) == 0
    one = np.load(d / "one.spk.npy")
    np.testing.assert_allclose(one, SpeakerEncoder(encoder, "cpu")(load_audio(clips / "take0.wav", 16000)), atol=1e-6)
    assert "speaker vector made from 1 clip" in capsys.readouterr().err
    assert svc_inference.main(base + ["--spk", str(d / "one.spk.npy"), "--out", str(d / "vector.wav")]) == 0
    assert (d / "clip.wav").read_bytes() == (d / "vector.wav").read_bytes()
    assert svc_inference.main(base + ["--spk", str(clips) + "/", "--save-spk", str(d / "mean.spk.npy"),
                                      "--out", str(d / "folder.wav")]) == 0
    second = SpeakerEncoder(encoder, "cpu")(load_audio(clips / "take1.wav", 16000))
    np.testing.assert_allclose(np.load(d / "mean.spk.npy"), (one + second) / 2, atol=1e-6)
    # one consistent message when the singer is missing or misspelled
    for spk in ([], ["--spk", str(d / "missing.spk.npy")]):
        with pytest.raises(SystemExit):
            svc_inference.main(base + spk + ["--out", str(d / "x.wav")])
        err = capsys.readouterr().err
        assert "audio" in err and "leave the option out" not in err and "Traceback" not in err
    with pytest.raises(SystemExit):
        svc_inference.main(base + ["--spk", str(d / "one.spk.npy"), "--save-spk", str(d / "y.spk.npy")])
    assert "--save-spk keeps the speaker vector made from the singer's audio" in capsys.readouterr().err


def test_feature_extraction_shows_progress_per_extractor(hp, model_files, tmp_path, capsys):
    """A bar per extractor, Whisper's and HuBERT's counting chunks and CREPE's its batches, so a long
    song shows its progress."""
    from tests import tiny_hubert, tiny_whisper

    settings = Settings(whisper_checkpoint=str(tiny_whisper.make_checkpoint(tmp_path / "whisper.pt")),
                        hubert_checkpoint=str(tiny_hubert.make_checkpoint(tmp_path / "hubert.pt")),
                        pitch_method="crepe", crepe_model="tiny", device="cpu")
    t = np.arange(16000 * 31) / 16000  # Whisper: 3 chunks of 15 s, HuBERT: 2 of 20 s
    SvcConverter(hp, model_files[0], settings).gather((0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32))
    err = capsys.readouterr().err
    # CREPE: 1 + 31 s / 20 ms frames in batches of 128
    for label, chunks in (("pitch (crepe tiny)", "13/13"), ("PPG (Whisper)", "3/3"), ("units (HuBERT)", "2/2")):
        assert any(line.startswith(f"{label}: 100%") and chunks in line for line in err.split("\r")), (label, err)


def test_a_live_bar_moves_while_one_step_runs():
    import io
    import time

    from svc.progress import LiveBar

    out = io.StringIO()
    with LiveBar(total=1, desc="one long step", file=out, every=0.05, mininterval=0):
        time.sleep(0.6)
    assert out.getvalue().count("one long step") >= 4  # drawn again and again, not only at start and end
