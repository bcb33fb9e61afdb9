"""Bad numbers never become a quiet success (issue 25): NaN/inf or silence from sound is an error
before a WAV is written; features of magnitudes no model sees are refused; a float WAV of huge
samples is blamed on itself; the refused-pickle message; killed saves leave no loadable .pt."""
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from common.audio import AudioError, OutputError, load_audio, save_audio
from common.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from tests.svc_fixtures import TINY, smooth_features
from tests.webui_fixtures import Client, server, workspace  # noqa: F401 (fixtures)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_cli(model, d, spk="singer.spk.npy", ppg="in.ppg.npy", wave="in.wav"):
    """svc_inference.py in a subprocess: (exit status, stderr)."""
    args = [sys.executable, os.path.join(ROOT, "svc_inference.py"), "--config", TINY, "--model", str(model),
            "--spk", str(d / spk), "--wave", str(d / wave), "--ppg", str(d / ppg), "--vec", str(d / "in.vec.npy"),
            "--pit", str(d / "in.csv"), "--out", str(d / "out.wav"), "--device", "cpu"]
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    return done.returncode, done.stderr


def model_with(path, out, change):
    ckpt = torch.load(path, weights_only=True)
    change(ckpt["model_g"])
    torch.save(ckpt, out)
    return out


@pytest.mark.slow  # a subprocess or a server: not in the quick loop
def test_cli_refuses_features_no_model_ever_sees(model_files, feature_files):
    d = feature_files
    np.save(d / "huge.ppg.npy", np.load(d / "in.ppg.npy") * 1e30)
    np.save(d / "huge.spk.npy", np.load(d / "singer.spk.npy") * 1e30)
    code, err = run_cli(model_files[0], d, ppg="huge.ppg.npy")
    assert code == 1 and "huge.ppg.npy: the PPG holds values up to" in err and "far beyond" in err, err
    code, err = run_cli(model_files[0], d, spk="huge.spk.npy")
    assert code == 1 and "huge.spk.npy: the speaker vector holds values up to" in err, err
    assert not (d / "out.wav").exists()
    assert run_cli(model_files[0], d)[0] == 0 and (d / "out.wav").exists()  # the good inputs convert


@pytest.mark.slow  # a subprocess or a server: not in the quick loop
def test_one_nan_in_the_model_is_an_error_not_a_silent_wav(model_files, feature_files):
    d = feature_files

    def one_nan(state):
        state["dec.conv_post.weight"].view(-1)[3] = float("nan")

    code, err = run_cli(model_with(model_files[0], d / "nan.pth", one_nan), d)
    # refused at load, naming the file and the tensor (common.checkpoint); the output check behind it is
    # test_save_audio_refuses_nan_and_silence_from_sound's
    assert code == 1 and "nan.pth" in err and "dec.conv_post.weight" in err, err
    assert not (d / "out.wav").exists()


@pytest.mark.slow  # a subprocess or a server: not in the quick loop
def test_silence_from_sound_is_an_error(model_files, feature_files):
    d = feature_files

    def mute(state):
        state["dec.conv_post.weight"].zero_()

    code, err = run_cli(model_with(model_files[0], d / "mute.pth", mute), d)
    assert code == 1 and "came out silent" in err, err
    assert not (d / "out.wav").exists()


def test_a_nan_model_tensor_is_named_at_load(model_files, tmp_path):
    from common.config import load_config
    from svc.model_files import load_svc_model

    def one_nan(state):
        state["dec.conv_post.weight"].view(-1)[3] = float("nan")

    path = model_with(model_files[0], tmp_path / "nan.pth", one_nan)
    with pytest.raises(CheckpointError, match=r"nan.pth.*dec.conv_post.weight"):
        load_svc_model(load_config(TINY), path)


def test_save_audio_refuses_nan_and_silence_from_sound(tmp_path):
    wav = np.sin(np.linspace(0, 100, 16000)).astype(np.float32)
    bad = wav.copy()
    bad[100] = np.nan
    with pytest.raises(OutputError, match=r"out.wav: the conversion produced 1 NaN or infinite samples"):
        save_audio(tmp_path / "out.wav", bad, 16000)
    with pytest.raises(OutputError, match="came out silent"):
        save_audio(tmp_path / "out.wav", np.zeros(16000, np.float32), 16000, source=wav)
    assert not os.listdir(tmp_path)  # nothing written, not even a temp file
    save_audio(tmp_path / "quiet.wav", np.zeros(16000, np.float32), 16000, source=np.zeros(100))  # silence in, out
    save_audio(tmp_path / "ok.wav", wav, 16000, source=wav)
    assert sorted(os.listdir(tmp_path)) == ["ok.wav", "quiet.wav"]


def test_web_app_reports_a_nan_model_instead_of_done(server, workspace, tmp_path):
    folder = workspace["root"] / "models" / "broken"
    folder.mkdir(exist_ok=True)

    def overflowing(state):  # finite weights (the load check passes) whose output is inf - inf = NaN
        weight = state["dec.conv_pre.weight"]
        weight.fill_(3e38)
        weight.view(-1)[::2] *= -1

    model = model_with(workspace["model"], folder / "nan.pth", overflowing)
    tab = Client(server[0])
    assert tab.call("POST", "/api/input", {"path": workspace["song"]})[0] == 200
    job = tab.wait(tab.call("POST", "/api/convert", {"model": str(model), "singer": workspace["singer"],
                                                     "pitch_method": "fcpe", "no_noise": True}))
    assert job["state"] == "error" and "NaN or infinite samples" in job["error"], job
    assert tab.call("GET", "/api/result")[0] == 400  # no result to play or download


def test_float_wav_of_huge_samples_is_blamed_on_the_file(tmp_path):
    wav = np.full(16000, 1e30, dtype=np.float32)
    sf.write(tmp_path / "loud.wav", wav, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"loud.wav: the audio holds samples of 1e\+30") as info:
        load_audio(tmp_path / "loud.wav", 16000)
    assert "PPG" not in str(info.value)
    sf.write(tmp_path / "hot.wav", np.full(16000, 1.5, dtype=np.float32), 16000, subtype="FLOAT")
    assert load_audio(tmp_path / "hot.wav", 16000).max() == pytest.approx(1.5)  # a little over full scale is fine


def test_refused_pickle_never_suggests_turning_weights_only_off(tmp_path):
    class Payload:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    torch.save({"model_g": Payload()}, tmp_path / "evil.pth")
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(tmp_path / "evil.pth", what="SVC model")
    message = str(info.value)
    assert "evil.pth" in message and "refused" in message and "system" in message
    assert "weights_only" not in message and "will likely succeed" not in message


def test_a_killed_save_leaves_no_pt_and_is_cleaned_at_the_next_save(tmp_path):
    from svc.webui.folders import AllowedFolders

    code = ("import os, sys; sys.path.insert(0, %r)\n"
            "from common.atomic import atomic_path\n"
            "with atomic_path(%r) as tmp:\n"
            "    open(tmp, 'wb').write(b'half a checkpoint')\n"
            "    os._exit(9)\n") % (ROOT, str(tmp_path / "model_100.pt"))
    assert subprocess.run([sys.executable, "-c", code]).returncode == 9
    leftovers = os.listdir(tmp_path)
    assert len(leftovers) == 1 and not leftovers[0].endswith(".pt"), leftovers
    assert AllowedFolders([tmp_path], "model").list(("*.pt", "*.pth")) == []
    save_checkpoint({"step": 1}, tmp_path / "model_100.pt")
    assert os.listdir(tmp_path) == ["model_100.pt"]


def test_pitch_far_beyond_any_voice_is_refused(server, workspace):
    from svc.feature_files import FeatureError, check_f0

    with pytest.raises(FeatureError, match=r"edited: pitch values reach 1e\+30 Hz, beyond any voice"):
        check_f0(np.full(10, 1e30), "edited")
    assert check_f0(np.full(10, 1500.0), "edited").max() == 1500.0
    tab = Client(server[0])
    status, info = tab.call("POST", "/api/input", {"path": workspace["song"]})
    status, reply = tab.call("POST", "/api/convert", {"model": workspace["model"], "singer": workspace["singer"],
                                                      "f0": [1e30] * info["frames"]})
    assert status == 400 and "beyond any voice" in reply["error"], reply


def test_batch_and_svc_eval_refuse_a_nan_model(model_files, tmp_path, capsys):
    import svc_eval
    from svc.conversion_run import convert_files
    from svc.settings import ConversionSettings
    from tests import tiny_hubert, tiny_speaker, tiny_whisper

    def overflowing(state):  # finite weights (the load check passes) whose output is inf - inf = NaN
        weight = state["dec.conv_pre.weight"]
        weight.fill_(3e38)
        weight.view(-1)[::2] *= -1

    model = model_with(model_files[0], tmp_path / "nan.pth", overflowing)
    songs = tmp_path / "songs"
    songs.mkdir()
    t = np.arange(20000) / 16000
    for name in ("a.wav", "b.wav"):
        sf.write(songs / name, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000)
    np.save(tmp_path / "alice.spk.npy", smooth_features(10)[2])
    whisper = str(tiny_whisper.make_checkpoint(tmp_path / "w.pt"))
    hubert = str(tiny_hubert.make_checkpoint(tmp_path / "h.pt"))
    settings = ConversionSettings(spk=str(tmp_path / "alice.spk.npy"), whisper_checkpoint=whisper,
                                  hubert_checkpoint=hubert, pitch_method="pm", device="cpu", progress=False)
    report = convert_files(TINY, model, [str(songs)], str(tmp_path / "out"), settings)
    assert report.done == 0 and len(report.failed) == 2
    assert all("NaN or infinite samples" in reason for _, reason in report.failed), report.failed
    assert not [n for n in os.listdir(tmp_path / "out") if n.endswith(".wav")]

    with pytest.raises(SystemExit):
        svc_eval.main(["--config", TINY, "--model", str(model), "--spk", str(tmp_path / "alice.spk.npy"),
                       "--wave", str(songs / "a.wav"), "--pitch-method", "pm", "--device", "cpu",
                       "--out", str(tmp_path / "eval"), "--keep-audio", "--whisper-checkpoint", whisper,
                       "--hubert-checkpoint", hubert, "--speaker-checkpoint",
                       str(tiny_speaker.make_checkpoint(tmp_path / "s.pth.tar"))])
    err = capsys.readouterr().err
    assert "nan.pth" in err and "NaN or infinite samples" in err, err
    assert not list((tmp_path / "eval").rglob("*.wav"))
