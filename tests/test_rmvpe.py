"""RMVPE: the public file's layout, front end, chunking, decoding and the extractor modes.

The real rmvpe.pt is not available offline; these tests build small random-weight files of its
layout. The full-size network is checked against tests/data/rmvpe_layout.json, dumped from the public
classes (RVC infer/rmvpe.py E2E and so-vits-svc 4.1 E2E0). Agreement with the public code's contour
was checked once in a scratch environment (max 0.0024 cents, see the README).
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from common.checkpoint import CheckpointError
from pitch import rmvpe
from pitch.extractor import PitchExtractor
from pitch.rmvpe import BIN_CENTS, LogMel, RmvpeTracker, cents_to_hz, decode, load_rmvpe
from pitch.rmvpe_net import RmvpeNet, RmvpeSizes

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SR = 16000
SMALL = RmvpeSizes(levels=2, inters=1, blocks=1, channels=4, gru_hidden=8)


def small_file(path, sizes=SMALL, seed=0, wrap=False, half=True, bias=-4.85):
    """A file in the public layout (fp16 tensors; `wrap`: so-vits-svc 4.1's {"model": ...}) with random weights."""
    torch.manual_seed(seed)
    net = RmvpeNet(sizes).eval()
    with torch.no_grad():
        for name, t in net.state_dict().items():
            if name.endswith("running_var"):
                t.copy_(0.5 + torch.rand(t.shape))
            elif name.endswith("running_mean"):
                t.copy_(0.1 * torch.randn(t.shape))
        [m for m in net.fc if isinstance(m, torch.nn.Linear)][0].bias.fill_(bias)  # saliences near the threshold
    state = {k: (v.half() if half and v.dtype.is_floating_point else v) for k, v in net.state_dict().items()}
    torch.save({"model": state} if wrap else state, path)
    return path


def song(seconds, hz=220.0, seed=0):
    t = np.arange(int(seconds * SR)) / SR
    f0 = hz * 2 ** (0.5 / 12 * np.sin(2 * np.pi * 5.5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / SR
    noise = 0.01 * np.random.default_rng(seed).standard_normal(len(t))
    voice = 0.2 * sum(np.sin(k * phase) / k for k in range(1, 8)) * (np.abs(t - seconds / 2) > 0.25)  # a rest
    return (voice + noise).astype(np.float32)


def test_full_size_layout_is_the_public_files():
    with open(os.path.join(ROOT, "tests", "data", "rmvpe_layout.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    with torch.device("meta"):
        plain = RmvpeNet().state_dict()
        with_tf = RmvpeNet(RmvpeSizes(timbre_filter=True)).state_dict()
    assert [[k, list(v.shape)] for k, v in plain.items()] == manifest["tensors"]
    assert sorted([k, list(v.shape)] for k, v in with_tf.items()) == sorted(manifest["tensors"] + manifest["sovits41_extra"])
    assert RmvpeSizes.from_state_dict(plain) == RmvpeSizes()
    assert RmvpeSizes.from_state_dict(with_tf) == RmvpeSizes(timbre_filter=True)
    # the published file: ~90.5 M values stored as fp16, 181 MB
    assert 90_000_000 < sum(v.numel() for v in plain.values()) < 91_000_000


@pytest.mark.parametrize("sizes", [SMALL, RmvpeSizes(levels=3, inters=2, blocks=2, channels=2, gru_hidden=4,
                                                     gru_layers=2, timbre_filter=True)])
def test_sizes_read_back_from_a_state_dict(sizes):
    assert RmvpeSizes.from_state_dict(RmvpeNet(sizes).state_dict()) == sizes


@pytest.mark.parametrize("wrap", [False, True])
def test_loads_both_public_file_forms(tmp_path, wrap):
    sizes = RmvpeSizes(**{**SMALL.__dict__, "timbre_filter": wrap})
    path = small_file(tmp_path / "rmvpe.pt", sizes, wrap=wrap)
    net = load_rmvpe(path)
    assert net.sizes == sizes and all(p.dtype == torch.float32 for p in net.parameters())
    state = torch.load(path, weights_only=True)
    state = state.get("model", state)
    for k, v in net.state_dict().items():
        assert torch.equal(v, state[k].to(v.dtype)), k


def test_a_missing_file_names_it_and_the_download(tmp_path):
    missing = tmp_path / "nowhere" / "rmvpe.pt"
    with pytest.raises(CheckpointError) as err:
        PitchExtractor(method="rmvpe", device="cpu", weights=missing)
    message = str(err.value)
    assert str(missing) in message and "python svc_download.py --only rmvpe" in message
    assert "--rmvpe-weights" in message


def test_a_file_of_another_layout_is_refused(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"layer.weight": torch.zeros(3, 3)}, path)
    with pytest.raises(CheckpointError, match="RMVPE"):
        load_rmvpe(path)


def test_default_place_and_download_entry():
    from common import download, paths

    assert paths.RMVPE_CKPT == os.path.join("rmvpe_pretrain", "rmvpe.pt")
    entry = download.parse_only("rmvpe")[0]
    assert entry.target == paths.RMVPE_CKPT and entry.urls[0].endswith("/rmvpe.pt")
    assert entry.min_bytes > 170_000_000  # the fp16 file is 181 MB; a web page or LFS pointer is refused


def test_htk_mel_filters_equal_librosas():
    librosa = pytest.importorskip("librosa")
    from common.mel_filters import mel_filters

    ours = mel_filters(SR, 1024, 128, 30.0, 8000.0, htk=True)
    theirs = librosa.filters.mel(sr=SR, n_fft=1024, n_mels=128, fmin=30.0, fmax=8000.0, htk=True)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-7)


def test_log_mel_is_centred_on_frame_times():
    mel = LogMel()
    wav = np.random.default_rng(1).standard_normal(SR).astype(np.float32)
    got = mel(torch.from_numpy(wav)).numpy()
    assert got.shape == (1 + len(wav) // 160, 128)
    # by hand: frame i = the 1024 samples centred on i * 160 of the reflect-padded wave, periodic Hann
    padded = np.pad(wav.astype(np.float64), 512, mode="reflect")
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(1024) / 1024)
    for i in (0, 1, 37, 99):
        spectrum = np.abs(np.fft.rfft(padded[i * 160:i * 160 + 1024] * window))
        expected = np.log(np.maximum(mel.basis.double().numpy() @ spectrum, 1e-5))
        np.testing.assert_allclose(got[i], expected, atol=2e-4)
    # a click at sample 50 * 160 is loudest in frame 50
    click = np.zeros(SR, np.float32)
    click[50 * 160] = 1.0
    assert int(np.argmax(mel(torch.from_numpy(click)).numpy().sum(axis=1))) == 50


def test_decoding_a_hand_made_salience():
    cents = BIN_CENTS
    assert cents[0] == pytest.approx(1997.3794084376191) and cents[1] - cents[0] == 20
    sal = np.full((5, 360), 0.001)
    sal[0, 100] = 0.9                                          # a lone peak: its bin's pitch
    sal[1, 200:203] = (0.2, 0.8, 0.6)                          # weighted mean of the neighbours
    sal[2, 0:2] = (0.5, 0.5)                                   # at the table's end: nothing past bin 0
    sal[3, 50] = 0.03                                          # exactly the threshold: unvoiced
    sal[4, 50] = 0.0301                                        # just above: voiced
    sal[4, 60] = 0.02                                          # outside +-4 bins: ignored
    f0, strength = decode(sal)
    window = lambda row, peak: (max(peak - 4, 0), min(peak + 5, 360))  # noqa: E731
    for row, peak in ((0, 100), (1, 201), (2, 0), (4, 50)):
        lo, hi = window(row, peak)
        expected = (sal[row, lo:hi] * cents[lo:hi]).sum() / sal[row, lo:hi].sum()
        assert f0[row] == pytest.approx(float(cents_to_hz(expected)), rel=1e-12), row
    assert f0[3] == 0 and strength[3] == pytest.approx(0.03)
    assert f0[4] > 0
    assert 1200 * np.log2(f0[1] / cents_to_hz(cents[201])) == pytest.approx(20 * 0.4 / 1.6, abs=0.05)
    assert decode(sal, threshold=0.95)[0].max() == 0


def test_tracker_contour_is_the_decoded_network_output(tmp_path):
    path = small_file(tmp_path / "rmvpe.pt")
    tracker = RmvpeTracker("cpu", path)
    wav = song(1.23)
    sal = tracker.salience(wav)
    assert sal.shape == (1 + len(wav) // 160, 360) and sal.dtype == np.float32
    # the network on the whole clip, zero-padded to a multiple of 2 ** levels frames, as the public code
    mel = tracker.mel(torch.from_numpy(wav))
    padded = torch.nn.functional.pad(mel, (0, 0, 0, -mel.shape[0] % 4))
    with torch.no_grad():
        direct = tracker.net(padded[None])[0, :mel.shape[0]].numpy()
    np.testing.assert_array_equal(sal, direct)
    f0, strength = tracker.track(wav, 160)
    expected_f0, _ = decode(sal)
    np.testing.assert_array_equal(f0, expected_f0)
    assert 0 < np.mean(f0 > 0) < 1  # the file was made to sit around the threshold


def test_long_songs_run_in_chunks_that_join_seamlessly(tmp_path):
    # without the GRU the network sees a bounded neighbourhood; chunks with more context than that,
    # aligned on the pooling grid, must give the one-piece result
    sizes = RmvpeSizes(**{**SMALL.__dict__, "gru_hidden": 0, "gru_layers": 0})
    path = small_file(tmp_path / "rmvpe.pt", sizes)
    whole = RmvpeTracker("cpu", path, chunk_frames=10**6)
    chunked = RmvpeTracker("cpu", path, chunk_frames=100, context_frames=64)
    assert chunked.chunk_frames == 100 and chunked.context_frames == 64
    wav = song(6.0)
    np.testing.assert_allclose(chunked.salience(wav), whole.salience(wav), rtol=0, atol=1e-5)
    # with the GRU (which sees the whole piece) the joins stay within float noise of the one-piece run
    gru = RmvpeTracker("cpu", small_file(tmp_path / "gru.pt"), chunk_frames=128, context_frames=128)
    assert len(wav) // 160 + 1 > gru.chunk_frames + 2 * gru.context_frames  # really in chunks
    one = RmvpeTracker("cpu", tmp_path / "gru.pt", chunk_frames=10**6)
    np.testing.assert_allclose(gru.salience(wav), one.salience(wav), rtol=0, atol=1e-6)


def test_extractor_modes(tmp_path):
    path = small_file(tmp_path / "rmvpe.pt")
    extractor = PitchExtractor(method="rmvpe", device="cpu", weights=path)
    wav = song(2.0)
    frames = len(wav) // 160
    training = extractor.contour(wav, "training")
    raw, _ = extractor.tracker.track(wav, 160)
    # training mode: the public contour itself (no smoothing), zeros where unvoiced
    np.testing.assert_array_equal(training.f0, raw[:frames].astype(np.float32))
    assert len(training.f0) == frames and np.any(training.f0 == 0)
    np.testing.assert_array_equal(training.voiced, raw[:frames] > 0)
    conversion = extractor.contour(wav, "conversion")
    assert len(conversion.f0) == frames and np.all(conversion.f0 > 0) and np.all(np.isfinite(conversion.f0))
    # voiced frames keep the tracker's pitch (no mean filter for RMVPE); the rest are bridged
    on = conversion.voiced & training.voiced
    assert on.sum() > frames // 4
    np.testing.assert_allclose(conversion.f0[on], training.f0[on], rtol=1e-6)
    repaired = extractor.contour(wav, "conversion", repair=True)
    assert len(repaired.f0) == frames and np.all(repaired.f0 > 0)


@pytest.mark.slow  # a subprocess or a server: not in the quick loop
def test_cli_writes_the_training_contour(tmp_path):
    import soundfile as sf

    weights = small_file(tmp_path / "rmvpe.pt")
    wav = song(1.5)
    sf.write(tmp_path / "in.wav", wav, SR, subtype="FLOAT")
    out = tmp_path / "out.npy"
    run = subprocess.run([sys.executable, os.path.join(ROOT, "pitch", "inference.py"), "-w", str(tmp_path / "in.wav"),
                          "-p", str(out), "--method", "rmvpe", "--mode", "training", "--rmvpe-weights", str(weights),
                          "--device", "cpu"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    expected = PitchExtractor(method="rmvpe", device="cpu", weights=weights).training(wav)
    np.testing.assert_allclose(np.load(out), expected, rtol=1e-6)
    missing = subprocess.run([sys.executable, os.path.join(ROOT, "pitch", "inference.py"), "-w", str(tmp_path / "in.wav"),
                              "-p", str(out), "--method", "rmvpe", "--rmvpe-weights", str(tmp_path / "no.pt")],
                             capture_output=True, text=True)
    assert missing.returncode == 1 and "svc_download.py --only rmvpe" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_chunk_sizes_are_multiples_of_the_pooling_grid(tmp_path):
    tracker = RmvpeTracker("cpu", small_file(tmp_path / "rmvpe.pt"), chunk_frames=101, context_frames=30)
    assert tracker.chunk_frames == 100 and tracker.context_frames == 28
    assert rmvpe.CHUNK_FRAMES % 32 == 0 and rmvpe.CONTEXT_FRAMES % 32 == 0


def test_every_entry_point_offers_rmvpe_from_the_default_place(tmp_path, monkeypatch):
    import svc_eval
    import svc_inference
    import svc_preprocessing
    from prepare.features import pitch_step
    from svc.settings import from_args
    from svc.webui.engine import ConvertRequest

    monkeypatch.chdir(tmp_path)
    os.makedirs("rmvpe_pretrain")
    small_file(tmp_path / "rmvpe_pretrain" / "rmvpe.pt")
    # preprocessing's pitch step finds rmvpe_pretrain/rmvpe.pt in the working folder
    f0 = pitch_step("rmvpe", device="cpu").load_model()(song(1.0))
    assert len(f0) == SR // 160 and np.any(f0 > 0)
    args = svc_inference.build_parser().parse_args(
        ["--config", "c.yaml", "--model", "m.pth", "--spk", "s.npy", "--wave", "w.wav", "--pitch-method", "rmvpe",
         "--rmvpe-weights", "elsewhere.pt"])
    settings = from_args(args)
    assert settings.pitch_method == "rmvpe" and settings.pitch_weights == "elsewhere.pt"
    assert svc_preprocessing.build_parser().parse_args(["--pitch-method", "rmvpe"]).pitch_method == "rmvpe"
    assert svc_eval.build_parser().parse_args(["--model", "m.pth", "--spk", "s.npy", "--wave", "w.wav",
                                               "--pitch-method", "rmvpe"]).pitch_method == "rmvpe"
    assert ConvertRequest.from_json({"pitch_method": "rmvpe"}).pitch_method == "rmvpe"


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu(tmp_path):
    path = small_file(tmp_path / "rmvpe.pt", bias=-1.0)  # clearly voiced, so only the pitch is compared
    wav = song(3.0)
    cpu = RmvpeTracker("cpu", path, chunk_frames=128, context_frames=64)
    gpu = RmvpeTracker("cuda", path, chunk_frames=128, context_frames=64)
    a, b = cpu.salience(wav), gpu.salience(wav)
    assert a.shape == b.shape and np.abs(a - b).max() < 1e-3  # cuDNN may use TF32 convolutions
    f_cpu = PitchExtractor(method="rmvpe", device="cpu", weights=path).conversion(wav)
    f_gpu = PitchExtractor(method="rmvpe", device="cuda", weights=path).conversion(wav)
    assert f_cpu.shape == f_gpu.shape and np.all(f_gpu > 0)
    assert np.median(np.abs(1200 * np.log2(f_gpu / f_cpu))) < 1.0
