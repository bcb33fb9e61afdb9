"""Preprocessing steps one by one, in process, on tiny synthetic data (no model weights needed)."""
import os

import numpy as np
import pytest
import soundfile as sf
import torch

from common.atomic import save_npy
from common.config import load_config
from prepare.check import check_lists
from prepare.features import FeatureStep
from prepare.filelist import split_items, valid_count, write_filelists
from prepare.jobs import StepError
from prepare.pipeline import STEPS, parse_steps
from prepare.resample import resample_dataset
from prepare.singer import speaker_means
from prepare.specs import spec_dataset
from vits.spectrogram import spectrogram_torch

TINY = os.path.join(os.path.dirname(__file__), "tiny.yaml")


def sung(sr, seconds, f0=220.0, level=0.5):
    t = np.arange(int(sr * seconds)) / sr
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.03 * np.sin(2 * np.pi * 5.5 * t))) / sr
    y = sum(np.sin(k * phase) / k for k in range(1, 6))
    return (level * y / np.abs(y).max()).astype(np.float32)


def write(path, wav, sr, subtype="PCM_16"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    sf.write(path, wav, sr, subtype=subtype)
    return str(path)


@pytest.fixture
def raw(tmp_path):
    root = tmp_path / "raw"
    write(root / "alto" / "stereo 44k é.wav", np.stack([sung(44100, 0.8), 0.5 * sung(44100, 0.8)], 1), 44100)
    write(root / "alto" / "float.wav", sung(22050, 0.7, 300, level=0.1), 22050, "FLOAT")
    write(root / "tenor" / "deep.flac", sung(24000, 0.9, 150), 24000, "PCM_24")
    write(root / "tenor" / "silent.wav", np.zeros(16000, np.float32), 16000)
    write(root / "tenor" / "blip.wav", sung(16000, 0.2), 16000)
    (root / "tenor" / "corrupt.wav").write_bytes(b"RIFF" + os.urandom(200))
    write(root / "tenor" / "deep.wav", sung(16000, 0.9), 16000)  # same name as deep.flac
    return str(root)


def test_resample_writes_mono_16bit_peak_normalised_and_skips_bad_files(raw, tmp_path):
    out16, out32 = str(tmp_path / "w16"), str(tmp_path / "w32")
    report = resample_dataset(raw, [(out16, 16000), (out32, 32000)], min_seconds=0.5, max_seconds=0.75)
    assert report.done == 3
    reasons = {os.path.basename(p): r for p, r in report.failed}
    assert set(reasons) == {"silent.wav", "blip.wav", "corrupt.wav", "deep.wav"}
    assert "silent" in reasons["silent.wav"] and "too short" in reasons["blip.wav"]
    assert "cannot read" in reasons["corrupt.wav"] and "rename" in reasons["deep.wav"]
    assert {os.path.basename(p) for p, _ in report.warnings} == {"stereo 44k é.wav", "deep.flac"}  # > 0.75 s
    for root, sr in ((out16, 16000), (out32, 32000)):
        path = os.path.join(root, "alto", "stereo 44k é.wav")
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.subtype) == (sr, 1, "PCM_16")
        assert abs(info.frames - 0.8 * sr) <= 2
        for name in ("stereo 44k é.wav", "float.wav"):
            wav, _ = sf.read(os.path.join(root, "alto", name))
            assert np.max(np.abs(wav)) == pytest.approx(0.6, abs=1e-3)
    # a leftover temp file of a killed run is removed; existing outputs are kept, missing ones redone
    leftover = os.path.join(out16, "alto", "float.tmp-abc123.wav")
    open(leftover, "wb").close()
    os.remove(os.path.join(out32, "tenor", "deep.wav"))
    again = resample_dataset(raw, [(out16, 16000), (out32, 32000)], min_seconds=0.5)
    assert (again.done, again.skipped_existing) == (1, 2)
    assert not os.path.exists(leftover)
    assert os.path.exists(os.path.join(out32, "tenor", "deep.wav"))


def test_resample_missing_folder_is_a_step_error(tmp_path):
    with pytest.raises(StepError, match="dataset folder not found"):
        resample_dataset(str(tmp_path / "nope"), [(str(tmp_path / "o"), 16000)])


def test_spectrogram_files_match_the_library_function(tmp_path):
    waves, specs = tmp_path / "w32", tmp_path / "specs"
    for n in (32000, 32000 + 319, 12345):
        write(waves / "spk" / f"clip{n}.wav", sung(32000, n / 32000), 32000)
    report = spec_dataset(str(waves), str(specs), load_config(TINY).data)
    assert report.done == 3 and not report.failed
    for n in (32000, 32000 + 319, 12345):
        spec = torch.load(specs / "spk" / f"clip{n}.pt", weights_only=True)
        wav, _ = sf.read(waves / "spk" / f"clip{n}.wav", dtype="float32")
        assert spec.shape == (513, n // 320)
        expected = spectrogram_torch(torch.from_numpy(wav)[None], 1024, 320, 1024)[0]
        assert torch.allclose(spec, expected)
    mtime = os.path.getmtime(specs / "spk" / "clip12345.pt")
    assert spec_dataset(str(waves), str(specs)).skipped_existing == 3
    assert os.path.getmtime(specs / "spk" / "clip12345.pt") == mtime


def test_spectrogram_rejects_a_wave_at_another_rate(tmp_path):
    write(tmp_path / "w" / "spk" / "a.wav", sung(16000, 1.0), 16000)
    report = spec_dataset(str(tmp_path / "w"), str(tmp_path / "s"))
    assert report.done == 0 and "expected 32000 Hz" in report.failed[0][1]


def test_speaker_means_are_plain_means_rewritten_only_on_change(tmp_path):
    spk_root, singer = tmp_path / "speaker", tmp_path / "singer"
    save_npy(spk_root / "a" / "x.spk.npy", np.full(4, 1.0, np.float32))
    save_npy(spk_root / "a" / "y.spk.npy", np.array([3.0, 1.0, 1.0, 1.0], np.float32))
    save_npy(spk_root / "b" / "z.spk.npy", np.array([np.nan, 0, 0, 0], np.float32))
    report = speaker_means(str(spk_root), str(singer))
    np.testing.assert_allclose(np.load(singer / "a.spk.npy"), [2.0, 1.0, 1.0, 1.0])
    assert report.done == 1 and len(report.failed) == 1 and not (singer / "b.spk.npy").exists()
    mtime = os.path.getmtime(singer / "a.spk.npy")
    assert speaker_means(str(spk_root), str(singer)).skipped_existing == 1
    assert os.path.getmtime(singer / "a.spk.npy") == mtime
    save_npy(spk_root / "a" / "w.spk.npy", np.zeros(4, np.float32))
    assert speaker_means(str(spk_root), str(singer)).done == 1
    np.testing.assert_allclose(np.load(singer / "a.spk.npy"), [4 / 3, 2 / 3, 2 / 3, 2 / 3], rtol=1e-6)


@pytest.mark.parametrize("n, expected", [(0, 0), (1, 0), (2, 1), (6, 1), (25, 2), (100, 10), (5000, 10)])
def test_validation_count(n, expected):
    assert valid_count(n) == expected
    assert valid_count(n, wanted=0) == 0


def test_split_is_seeded_and_disjoint():
    items = [f"item{i}" for i in range(30)]
    train, valid = split_items(items, seed=7)
    assert split_items(list(reversed(items)), seed=7) == (train, valid)
    assert len(valid) == 3 and valid == sorted(valid) and not set(train) & set(valid)
    assert sorted(train + valid) == sorted(items)


def fake_features(root, speaker, name, frames, ppg_dim=16, nan=False, pitch_extra=0):
    """All features of one clip with consistent (or deliberately wrong) shapes."""
    write(f"{root}/waves-32k/{speaker}/{name}.wav", sung(32000, frames / 100), 32000)
    os.makedirs(f"{root}/specs/{speaker}", exist_ok=True)
    torch.save(torch.rand(513, frames), f"{root}/specs/{speaker}/{name}.pt")
    pitch = np.full(frames + pitch_extra, 220.0, np.float32)
    if nan:
        pitch[3] = np.nan
    save_npy(f"{root}/pitch/{speaker}/{name}.pit.npy", pitch)
    save_npy(f"{root}/hubert/{speaker}/{name}.vec.npy", np.zeros((frames // 2, 256), np.float32))
    save_npy(f"{root}/whisper/{speaker}/{name}.ppg.npy", np.zeros((frames // 2, ppg_dim), np.float32))
    save_npy(f"{root}/speaker/{speaker}/{name}.spk.npy", np.ones(256, np.float32))


def test_filelist_lists_complete_items_in_public_form(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for i in range(4):
        fake_features("data_svc", "alto" if i % 2 else "bass", f"clip {i} é", 80)
    os.remove("data_svc/hubert/alto/clip 1 é.vec.npy")
    save_npy("data_svc/singer/bass.spk.npy", np.ones(256, np.float32))
    report = write_filelists("data_svc", "files")
    assert (report.n_train, report.n_valid) == (2, 1)
    assert [p for p, _ in report.failed] == ["./data_svc/waves-32k/alto/clip 1 é.wav"]
    lines = open("files/train.txt", encoding="utf-8").read().splitlines() + \
        open("files/valid.txt", encoding="utf-8").read().splitlines()
    assert "./data_svc/waves-32k/bass/clip 0 é.wav|./data_svc/specs/bass/clip 0 é.pt|" \
           "./data_svc/pitch/bass/clip 0 é.pit.npy|./data_svc/hubert/bass/clip 0 é.vec.npy|" \
           "./data_svc/whisper/bass/clip 0 é.ppg.npy|./data_svc/speaker/bass/clip 0 é.spk.npy" in lines
    mtime = os.path.getmtime("files/train.txt")
    assert write_filelists("data_svc", "files").done == 0
    assert os.path.getmtime("files/train.txt") == mtime
    singer = write_filelists("data_svc", "files_singer", singer_mean=True)
    text = open("files_singer/train.txt", encoding="utf-8").read() + open("files_singer/valid.txt").read()
    assert singer.n_train + singer.n_valid == 2  # alto has no singer mean: both its clips are left out
    assert text.count("|./data_svc/singer/bass.spk.npy\n") == 2


def test_check_finds_what_would_break_training(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    hp = load_config(TINY)
    for name in ("good1", "good2", "good3"):
        fake_features("d", "s", name, 120)
    fake_features("d", "s", "long pitch", 120, pitch_extra=5)
    fake_features("d", "s", "nan", 120, nan=True)
    fake_features("d", "s", "wide", 120, ppg_dim=20)
    fake_features("d", "s", "short", 3)
    write_filelists("d", "files", wanted_valid=0)
    good = [line for line in open("files/train.txt", encoding="utf-8") if "good" in line]
    with open("files/good.txt", "w", encoding="utf-8") as f:
        f.writelines(good)
    result = check_lists(["files/good.txt"], hp)
    assert result.ok and result.checked == 3, result.summary()
    result = check_lists(["files/train.txt"], hp)
    broken = {os.path.basename(p): text for p, text in result.problems}
    assert set(broken) == {"long pitch.wav", "nan.wav", "wide.wav", "short.wav"}, result.summary()
    assert "disagree by 5 frames" in broken["long pitch.wav"]
    assert "NaN" in broken["nan.wav"] and "[N, 16]" in broken["wide.wav"] and "too short" in broken["short.wav"]
    assert not result.ok


def _fake_pitch_model():
    def model(wav):
        if len(wav) > 16000:
            raise ValueError("fake model refuses long clips")
        return np.full(len(wav) // 160, 100.0, np.float32)

    return model


def test_feature_step_skips_done_files_cleans_temp_files_and_reports_failures(tmp_path):
    waves, out = tmp_path / "w16", tmp_path / "pitch"
    write(waves / "a" / "one.wav", sung(16000, 0.5), 16000)
    write(waves / "a" / "two.wav", sung(16000, 0.6), 16000)
    write(waves / "b" / "long.wav", sung(16000, 1.5), 16000)
    (waves / "b" / "bad.wav").write_bytes(b"not audio at all")
    loads = []
    step = FeatureStep("fake pitch", ".pit.npy", lambda: loads.append(1) or _fake_pitch_model(), ndim=1)
    report = step.run(str(waves), str(out))
    assert report.done == 2 and {os.path.basename(p) for p, _ in report.failed} == {"long.wav", "bad.wav"}
    assert np.load(out / "a" / "one.pit.npy").shape == (50,)
    os.remove(out / "a" / "two.pit.npy")
    open(out / "a" / "two.pit.tmp-xyz.npy", "wb").close()
    report = step.run(str(waves), str(out))
    assert (report.done, report.skipped_existing) == (1, 1)
    assert sorted(os.listdir(out / "a")) == ["one.pit.npy", "two.pit.npy"]
    os.remove(waves / "b" / "long.wav")
    os.remove(waves / "b" / "bad.wav")
    assert step.run(str(waves), str(out)).skipped_existing == 2 and len(loads) == 2  # no model load: nothing to do


def test_parse_steps():
    assert parse_steps("1-9") == STEPS
    assert parse_steps("spec,1,3-4") == ("resample", "ppg", "hubert", "spec")
    assert parse_steps("", skip="9,pitch") == tuple(s for s in STEPS if s not in ("check", "pitch"))
    with pytest.raises(ValueError):
        parse_steps("10")
    with pytest.raises(ValueError):
        parse_steps("mel")


CLIS = ["preprocess_a", "preprocess_crepe", "preprocess_ppg", "preprocess_hubert", "preprocess_speaker",
        "preprocess_speaker_ave", "preprocess_spec", "preprocess_train", "preprocess_zzz"]


@pytest.mark.parametrize("name", CLIS)
def test_every_cli_explains_every_flag(name, capsys):
    import importlib

    module = importlib.import_module(f"prepare.{name}")
    parser = module.build_parser()
    assert parser.description
    undocumented = [a.dest for a in parser._actions if not (a.help or "").strip()]
    assert not undocumented, f"{name}: flags without help: {undocumented}"
    with pytest.raises(SystemExit) as exit_info:
        module.main(["--help"])
    assert exit_info.value.code == 0 and "usage:" in capsys.readouterr().out


def test_pipeline_cli_explains_every_flag():
    import svc_preprocessing

    parser = svc_preprocessing.build_parser()
    assert not [a.dest for a in parser._actions if not (a.help or "").strip()]
    flags = {opt for a in parser._actions for opt in a.option_strings}
    assert {"-t", "--dataset", "--data-svc", "--device", "--steps", "--skip", "--whisper-checkpoint",
            "--hubert-checkpoint", "--speaker-checkpoint", "--crepe-model", "--pitch-method"} <= flags


def test_step_clis_chain_in_process(tmp_path, monkeypatch):
    from prepare import preprocess_a, preprocess_spec, preprocess_train, preprocess_zzz

    monkeypatch.chdir(tmp_path)
    write("dataset_raw/s/one.wav", sung(44100, 0.8), 44100)
    write("dataset_raw/s/two.flac", sung(22050, 0.9, 300), 22050)
    assert preprocess_a.main(["-w", "dataset_raw", "-o", "data_svc/waves-32k", "-s", "32000"]) == 0
    assert sorted(os.listdir("data_svc/waves-32k/s")) == ["one.wav", "two.wav"]
    assert preprocess_spec.main(["-w", "data_svc/waves-32k", "-s", "data_svc/specs", "-c", TINY]) == 0
    assert torch.load("data_svc/specs/s/two.pt", weights_only=True).shape == (513, 90)
    assert preprocess_train.main([]) == 1  # no pitch/units/PPG/speaker yet: nothing usable
    assert preprocess_zzz.main(["-c", TINY]) == 1  # no lists
    assert preprocess_a.main(["-w", "missing_folder", "-o", "x", "-s", "16000"]) == 1


def test_pipeline_options_take_every_flag_of_svc_preprocessing():
    import svc_preprocessing
    from prepare.pipeline import Options

    args = svc_preprocessing.build_parser().parse_args(["-w", "raw", "-t", "2", "--valid", "3"])
    opts = Options.from_flags(args, steps=("resample",), clip=None)
    assert (opts.dataset, opts.workers, opts.valid, opts.steps) == ("raw", 2, 3, ("resample",))
    defaults = Options()
    for name in ("data_svc", "files", "pitch_method", "crepe_model", "min_seconds", "max_seconds", "seed"):
        assert getattr(opts, name) == getattr(defaults, name), name
