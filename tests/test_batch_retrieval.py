"""svc_inference.py: feature retrieval (index and k-means variants) and batch conversion."""
import os

import numpy as np
import pytest
import soundfile as sf

from common.atomic import save_npy
from svc.conversion_run import convert_file
from svc.convert import Features, SvcConverter
from svc.retrieval import (ContentRetrieval, IndexNotFoundError, RetrievalSettings, load_retrieval,
                           singer_from_speaker_file, write_index)
from svc.retrieval_build import build_singer_indexes
from svc.settings import ConversionSettings as Settings
from tests.svc_fixtures import HOP, TINY, smooth_features  # noqa: F401 (fixtures)

SAMPLES16K = 20000  # 1.25 s: 62 frames at 50 Hz, 125 at 100 Hz


@pytest.fixture(scope="module")
def data_svc(tmp_path_factory):
    """data_svc/ with random HuBERT (256) and PPG (16) features of singer alice, her indexes, her singer file."""
    root = tmp_path_factory.mktemp("data") / "data_svc"
    rng = np.random.default_rng(7)
    for i in range(3):
        for kind, suffix, width in (("hubert", ".vec.npy", 256), ("whisper", ".ppg.npy", 16)):
            os.makedirs(root / kind / "alice", exist_ok=True)
            np.save(root / kind / "alice" / f"song{i}{suffix}", rng.standard_normal((40, width)).astype(np.float32))
    report = build_singer_indexes(root, singers=["alice"], backend="sklearn")
    assert report.done == 2 and not report.failed
    os.makedirs(root / "singer")
    np.save(root / "singer" / "alice.spk.npy", smooth_features(10)[2])
    return root


@pytest.fixture()
def song(tmp_path, monkeypatch):
    """A 1.25 s wav with matching .ppg.npy / .vec.npy files; the pitch CSV reader returns 200 Hz."""
    import svc.conversion_run as cf

    t = np.arange(SAMPLES16K) / 16000
    sf.write(tmp_path / "in.wav", (0.4 * np.sin(2 * np.pi * 200 * t)).astype(np.float32), 16000)
    ppg, vec, _ = smooth_features(2 * (SAMPLES16K // 320), seed=2)
    np.save(tmp_path / "in.ppg.npy", ppg)
    np.save(tmp_path / "in.vec.npy", vec)
    monkeypatch.setattr(cf, "read_pitch_csv", lambda path: np.full(125, 200.0, dtype=np.float32))
    return tmp_path


def test_index_build_and_retrieval_ratio_zero_is_plain_conversion(model_files, data_svc, song, monkeypatch):
    import svc_inference
    from vits.models import SynthesizerInfer

    fed = []  # units each conversion feeds the model
    original = SynthesizerInfer.inference

    def recording(self, ppg, vec, *args, **kwargs):
        fed.append(vec[0].cpu().numpy().copy())
        return original(self, ppg, vec, *args, **kwargs)

    monkeypatch.setattr(SynthesizerInfer, "inference", recording)
    spk = data_svc / "singer" / "alice.spk.npy"
    assert (data_svc / "indexes" / "alice" / "hubert.index").is_file()
    assert (data_svc / "indexes" / "alice" / "whisper.frames.npy").is_file()
    features = dict(ppg=song / "in.ppg.npy", vec=song / "in.vec.npy", pit="in.csv")

    def convert(retrieval=None):
        settings = Settings(spk=str(spk), retrieval=retrieval, device="cpu", seed=0, no_noise=True, progress=False)
        return convert_file(TINY, model_files[0], song / "in.wav", None, settings, **features)

    plain = convert()
    zero = convert(RetrievalSettings(ratio=0.0, data_root=str(data_svc)))
    half = convert(RetrievalSettings(ratio=0.5, data_root=str(data_svc)))
    assert plain.dtype == zero.dtype and np.array_equal(plain, zero)  # bit for bit
    assert np.array_equal(fed[0], fed[1]) and np.abs(fed[2] - fed[0]).max() > 0.1  # retrieval reaches the model
    assert half.shape == plain.shape
    # the same through the command line: default index paths from the speaker file name (alice)
    base = ["--config", TINY, "--model", str(model_files[0]), "--spk", str(spk), "--wave", str(song / "in.wav"),
            "--ppg", str(song / "in.ppg.npy"), "--vec", str(song / "in.vec.npy"), "--pit", "in.csv",
            "--device", "cpu", "--seed", "0", "--no-noise"]
    assert svc_inference.main(base + ["--out", str(song / "plain.wav")]) == 0
    assert svc_inference.main(base + ["--out", str(song / "zero.wav"), "--enable-retrieval", "--retrieval-ratio",
                                      "0", "--data-svc", str(data_svc)]) == 0
    assert (song / "plain.wav").read_bytes() == (song / "zero.wav").read_bytes()
    assert len(sf.read(song / "zero.wav")[0]) == 40000


def test_conversion_says_what_it_used(model_files, data_svc, song, capsys):
    import svc_inference

    base = ["--config", TINY, "--model", str(model_files[0]), "--spk", str(data_svc / "singer" / "alice.spk.npy"),
            "--wave", str(song / "in.wav"), "--ppg", str(song / "in.ppg.npy"), "--vec", str(song / "in.vec.npy"),
            "--pit", "in.csv", "--device", "cpu", "--out", str(song / "o.wav")]
    assert svc_inference.main(base + ["--shift", "2", "--enable-retrieval", "--retrieval-ratio", "0.3",
                                      "--protect", "0.2", "--data-svc", str(data_svc)]) == 0
    used = [line for line in capsys.readouterr().err.splitlines() if "used:" in line]
    assert used == [f"{song / 'in.wav'}: used: pitch from in.csv, shift +2 semitones, retrieval index "
                    f"(ratio 0.3, 3 neighbours, protect 0.2)"]
    assert svc_inference.main(base) == 0
    assert "used: pitch from in.csv, shift +0 semitones, no retrieval" in capsys.readouterr().err


def nearest_mean(queries, frames, k):
    """Brute-force mean of the k nearest rows of `frames` for each query row."""
    d = ((queries[:, None, :].astype(np.float64) - frames[None, :, :]) ** 2).sum(-1)  # [T, N]
    ids = np.argsort(d, axis=1)[:, :k]
    return frames[ids].mean(axis=1)


def test_ratio_one_feeds_the_model_neighbour_means_searched_at_50hz(hp, model_files, tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    hubert_frames = rng.standard_normal((9, 256)).astype(np.float32)
    whisper_frames = rng.standard_normal((7, 16)).astype(np.float32)
    folder = tmp_path / "indexes" / "toy"
    write_index(folder / "hubert.index", hubert_frames, "hubert")
    write_index(folder / "whisper.index", whisper_frames, "whisper")
    retrieval = ContentRetrieval.from_paths(folder / "hubert.index", folder / "whisper.index", ratio=1.0, k=2,
                                            backend="sklearn")
    searched = []

    def counting(ppg, vec):
        searched.append((len(ppg), len(vec)))
        return retrieval(ppg, vec)

    converter = SvcConverter(hp, model_files[0], Settings(device="cpu", no_noise=True, seed=1, progress=False))
    converter.retrieval = counting
    seen = []  # the lined-up content the model gets
    prepare = converter.prepare
    monkeypatch.setattr(converter, "prepare", lambda *a: seen.append(prepare(*a)) or seen[-1])
    ppg, vec, spk = smooth_features(80, seed=4)  # 40 frames at 50 Hz
    f0 = np.full(80, 220.0, dtype=np.float32)
    wav = converter.convert(spk, given=Features(ppg, vec, f0))
    assert wav.shape == (80 * HOP,)
    assert searched == [(40, 40)]  # one search per 50 Hz frame, before the x2 repeat
    seen_ppg, seen_vec = seen[0].ppg, seen[0].vec
    np.testing.assert_allclose(seen_ppg, np.repeat(nearest_mean(ppg, whisper_frames, 2), 2, axis=0), atol=1e-6)
    np.testing.assert_allclose(seen_vec, np.repeat(nearest_mean(vec, hubert_frames, 2), 2, axis=0), atol=1e-6)

    # k-means variant: ratio 1 -> every frame becomes its nearest centre (loaded by file name and checked widths)
    save_npy(folder / "hubert.codebook.npy", hubert_frames[:4])
    save_npy(folder / "whisper.codebook.npy", whisper_frames[:3])
    settings = RetrievalSettings("kmeans", ratio=1.0, k=1, data_root=str(tmp_path), backend="sklearn")
    converter.retrieval = load_retrieval(settings, tmp_path / "toy.spk.npy", hp)
    converter.convert(spk, given=Features(ppg, vec, f0))
    seen_ppg, seen_vec = seen[-1].ppg, seen[-1].vec
    np.testing.assert_allclose(seen_ppg[::2], nearest_mean(ppg, whisper_frames[:3], 1), atol=1e-6)
    np.testing.assert_allclose(seen_vec[1::2], nearest_mean(vec, hubert_frames[:4], 1), atol=1e-6)


def test_missing_index_and_bad_retrieval_options_are_clear_errors(hp, model_files, data_svc, song, capsys):
    import svc_inference

    bob = song / "bob.spk.npy"
    np.save(bob, smooth_features(10)[2])
    assert singer_from_speaker_file("data_svc/singer/alice.spk.npy") == "alice"
    base = ["--config", TINY, "--model", str(model_files[0]), "--spk", str(bob), "--wave", str(song / "in.wav"),
            "--ppg", str(song / "in.ppg.npy"), "--vec", str(song / "in.vec.npy"), "--pit", "in.csv",
            "--device", "cpu", "--data-svc", str(data_svc), "--out", str(song / "o.wav")]

    def fails(*extra):
        with pytest.raises(SystemExit) as stop:
            svc_inference.main(base + list(extra))
        err = capsys.readouterr().err
        assert stop.value.code == 1 and "Traceback" not in err
        return err

    err = fails("--enable-retrieval")
    assert os.path.join("indexes", "bob", "hubert.index") in err and "not found" in err
    assert "python svc_train_retrieval.py -s bob" in err and "--retrieval-singer" in err
    err = fails("--cluster-ratio", "0.5", "--retrieval-singer", "alice")
    assert "hubert.codebook.npy" in err and "svc_train_retrieval.py -s alice --kmeans" in err
    assert "choose one" in fails("--enable-retrieval", "--cluster-ratio", "0.5")
    assert "--enable-retrieval" in fails("--hubert-index-path", "x.index")
    assert "outside [0, 1]" in fails("--enable-retrieval", "--retrieval-ratio", "1.5", "--retrieval-singer", "alice")
    # an index of the wrong width for this model names the file and the rebuild command
    err = fails("--enable-retrieval", "--retrieval-singer", "alice",
                "--hubert-index-path", str(data_svc / "indexes" / "alice" / "whisper.index"))
    assert "16-wide" in err and "vits.vec_dim" in err and "--force" in err
    assert not (song / "o.wav").exists()
    with pytest.raises(IndexNotFoundError, match="svc_train_retrieval.py -s carol"):
        load_retrieval(RetrievalSettings(singer="carol", data_root=str(data_svc)), bob, hp)


# -- batch conversion ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def extractor_flags(tmp_path_factory):
    from tests import tiny_hubert, tiny_whisper

    folder = tmp_path_factory.mktemp("extractors")
    return ["--whisper-checkpoint", str(tiny_whisper.make_checkpoint(folder / "whisper.pt")),
            "--hubert-checkpoint", str(tiny_hubert.make_checkpoint(folder / "hubert.pt")),
            "--crepe-model", "tiny", "--device", "cpu", "--seed", "0", "--no-noise"]


def write_song(path, seconds, sr):
    t = np.arange(int(round(seconds * sr))) / sr
    sf.write(path, (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32), sr)


def test_batch_skips_a_corrupt_file_and_writes_the_others(model_files, data_svc, extractor_flags, tmp_path, capsys):
    import svc_inference

    write_song(tmp_path / "first.wav", 0.6, 44100)
    write_song(tmp_path / "second.flac", 0.45, 16000)
    (tmp_path / "broken.wav").write_bytes(b"RIFF\x00\x01garbage, not audio" * 10)
    out = tmp_path / "converted"
    status = svc_inference.main(["--config", TINY, "--model", str(model_files[0]), "--spk",
                                 str(data_svc / "singer" / "alice.spk.npy"), "--wave", str(tmp_path / "first.wav"),
                                 str(tmp_path / "broken.wav"), str(tmp_path / "second.flac"), "--out", str(out)]
                                + extractor_flags)
    err = capsys.readouterr().err
    assert status == 0
    assert sorted(os.listdir(out)) == ["first_svc.wav", "second_svc.wav"]  # no temp files left over
    assert len(sf.read(out / "first_svc.wav")[0]) == round(0.6 * 32000)
    assert len(sf.read(out / "second_svc.wav")[0]) == round(0.45 * 32000)
    assert "2 written" in err and "1 skipped" in err and "broken.wav" in err


def test_folder_input_with_retrieval_and_all_bad_folder(model_files, data_svc, extractor_flags, tmp_path, capsys):
    import svc_inference

    songs = tmp_path / "songs"
    songs.mkdir()
    write_song(songs / "b.wav", 0.5, 32000)
    write_song(songs / "a.wav", 0.4, 22050)
    (songs / "notes.txt").write_text("not audio, ignored")
    common = ["--config", TINY, "--model", str(model_files[0]), "--spk", str(data_svc / "singer" / "alice.spk.npy")]
    status = svc_inference.main(common + ["--wave", str(songs), "--out", str(tmp_path / "out"), "--enable-retrieval",
                                          "--data-svc", str(data_svc), "--retrieval-backend", "sklearn"]
                                + extractor_flags)
    assert status == 0 and "2 written, 0 already done, 0 skipped" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path / "out")) == ["a_svc.wav", "b_svc.wav"]
    assert len(sf.read(tmp_path / "out" / "a_svc.wav")[0]) == round(0.4 * 32000)

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.wav").write_bytes(b"")
    (bad / "y.wav").write_bytes(b"not a wave file at all")
    status = svc_inference.main(common + ["--wave", str(bad), "--out", str(tmp_path / "none")] + extractor_flags)
    err = capsys.readouterr().err
    assert status == 1 and "0 written" in err and "x.wav" in err and "y.wav" in err


def test_feature_files_need_a_single_input(model_files, data_svc, song, capsys):
    import svc_inference

    write_song(song / "other.wav", 0.3, 16000)
    for extra in (["--wave", str(song / "in.wav"), str(song / "other.wav")], ["--wave", str(song)]):
        with pytest.raises(SystemExit) as stop:
            svc_inference.main(["--config", TINY, "--model", str(model_files[0]), "--spk",
                                str(data_svc / "singer" / "alice.spk.npy"), "--ppg", str(song / "in.ppg.npy"),
                                "--out", str(song / "outdir"), "--device", "cpu"] + extra)
        err = capsys.readouterr().err
        assert stop.value.code == 1 and "--ppg describe one input file" in err
    assert not (song / "outdir").exists()
    # several inputs need an output folder, not a .wav name
    with pytest.raises(SystemExit):
        svc_inference.main(["--config", TINY, "--model", str(model_files[0]), "--spk",
                            str(data_svc / "singer" / "alice.spk.npy"), "--wave", str(song / "in.wav"),
                            str(song / "other.wav"), "--out", str(song / "x.wav"), "--device", "cpu"])
    assert "looks like an audio file" in capsys.readouterr().err
