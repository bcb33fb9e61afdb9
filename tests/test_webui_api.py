"""svc_webui.py's JSON API over real HTTP: convert, edit the pitch, CSV, clear errors, separate sessions."""
import io
import os
import threading

import numpy as np
import pytest
import soundfile as sf

from svc.webui.folders import AllowedFolders, PathNotAllowed
from svc.webui.spectrogram import hz_to_midi, note_spectrogram, row_notes
from tests.webui_fixtures import SONG_SECONDS, Client, server, workspace, write_song  # noqa: F401

FORM = {"pitch_method": "crepe", "crepe_model": "tiny", "seed": 1, "no_noise": True}


def converted(client, **changes):
    body = {**FORM, **changes}
    job = client.wait(client.call("POST", "/api/convert", body))
    assert job["state"] == "done", job
    status, result = client.call("GET", "/api/result")
    assert status == 200
    return result


def test_convert_edit_pitch_and_reconvert_without_extracting_again(server, workspace):
    client = Client(server[0])
    status, info = client.call("POST", "/api/input", {"path": workspace["song"]})
    assert status == 200 and info["frames"] == int(SONG_SECONDS * 100)
    form = {"model": workspace["model"], "singer": workspace["singer"]}
    job = client.wait(client.call("POST", "/api/extract_pitch", FORM))
    assert job["state"] == "done"
    status, pitch = client.call("GET", "/api/pitch")
    f0 = np.array(pitch["f0"])
    assert len(f0) == info["frames"] and abs(np.median(hz_to_midi(f0)) - hz_to_midi(220)) < 0.5  # CREPE found A3
    spec = pitch["spectrogram"]
    assert (spec["rows"], spec["cols"]) == (len(row_notes()), len(f0))

    first = converted(client, **form)
    stages = client.call("GET", "/api/job")[1]["job"]["stages"]
    assert stages[:5] == ["starting", "loading model", "extracting PPG (Whisper)", "extracting units (HuBERT)",
                          "preparing"] and stages[-1] == "converting (chunk 1 of 1)", stages
    assert first["edited"] is False and first["extractions"] == {"pitch": 1, "content": 1}
    status, wav, headers = client.call("GET", "/api/result.wav?download=1", raw=True)
    audio, rate = sf.read(io.BytesIO(wav))
    assert rate == 32000 and len(audio) == round(SONG_SECONDS * 32000) and np.abs(audio).max() > 0
    assert 'filename="take1_svc.wav"' in headers["Content-Disposition"]

    job = client.wait(client.call("POST", "/api/evaluate"))
    assert job["state"] == "done", job
    metrics = {m["key"]: m["value"] for m in client.call("GET", "/api/result")[1]["metrics"]}
    assert {"pitch_median_cents", "voicing_disagreement", "spk_sim", "spk_leak", "ppg_cos", "lufs_out"} <= set(metrics)
    assert metrics["pitch_median_cents"] < 50  # the tiny model's NSF source sings the asked pitch
    assert -1 <= metrics["spk_sim"] <= 1 and metrics["lufs_out"] < 0

    edited = f0.copy()
    edited[50:100] *= 2  # one octave up in 0.5-1.0 s
    second = converted(client, f0=edited.tolist(), shift=2, **form)
    assert second["edited"] is True and second["extractions"] == {"pitch": 1, "content": 1}  # nothing re-extracted
    used = np.array(second["f0"])
    np.testing.assert_allclose(used / np.array(first["f0"]), np.where(np.arange(len(f0)) // 50 == 1, 2, 1)
                               * 2 ** (2 / 12), rtol=1e-3)
    # loudness mix 1: the output takes the source's level (the tiny model sings 6 dB softer)
    def level_db(wav):
        middle = np.asarray(wav)[len(wav) // 5:-len(wav) // 5]
        return 10 * np.log10(np.mean(middle ** 2))

    converted(client, loudness_mix=1, **form)
    followed = sf.read(io.BytesIO(client.call("GET", "/api/result.wav", raw=True)[1]))[0]
    source = level_db(sf.read(workspace["song"])[0])
    assert abs(level_db(audio) - source) > 4 and abs(level_db(followed) - source) < 1.5
    # retrieval toward alice's frames (protect on): another result; bob has no index: a clear message
    retrieved = converted(client, retrieval="index", retrieval_ratio=1, protect=0.33, **form)
    assert retrieved["seconds"] == SONG_SECONDS
    assert not np.array_equal(client.call("GET", "/api/result.wav", raw=True)[1], wav)
    job = client.wait(client.call("POST", "/api/convert", {**FORM, **form, "retrieval": "index",
                                                           "singer": workspace["singer"].replace("alice", "bob")}))
    assert job["state"] == "error" and "svc_train_retrieval.py" in job["error"], job
    # the training checkpoint converts too
    assert converted(client, model=workspace["checkpoint"], singer=workspace["singer"])["seconds"] == SONG_SECONDS


def test_repaired_spans_and_auto_shift(server, workspace):
    client = Client(server[0])
    client.call("POST", "/api/input", {"path": str(workspace["root"] / "songs" / "jump.wav")})
    at, fcpe = {}, {**FORM, "pitch_method": "fcpe"}  # FCPE follows the 100 ms jump (CREPE's Viterbi glides over it)
    for repair in (False, True):
        assert client.wait(client.call("POST", "/api/extract_pitch", {**fcpe, "repair": repair}))["state"] == "done"
        pitch = client.call("GET", "/api/pitch")[1]
        at[repair] = hz_to_midi(np.median(pitch["f0"][72:78]))
    assert abs(at[False] - hz_to_midi(440)) < 1 and abs(at[True] - hz_to_midi(220)) < 1  # the jump moved back
    assert [r["kind"] for r in pitch["repairs"]] == ["octave"]
    assert 0.6 < pitch["repairs"][0]["start"] < 0.75 < pitch["repairs"][0]["end"] < 0.9

    form = {**fcpe, "model": workspace["model"], "singer": workspace["singer"], "auto_shift": True, "shift": 5}
    result = converted(client, **form)
    assert result["shift"] == 12 and any(n.startswith("auto-shift: +12") for n in result["notes"])
    assert any(n.startswith("pitch repair: 1 span") for n in result["notes"])
    assert "used: pitch extracted with fcpe, shift +12 semitones, no retrieval" in result["notes"]
    assert abs(np.median(hz_to_midi(result["f0"])) - hz_to_midi(440)) < 1  # into alice's 430-500 Hz
    job = client.wait(client.call("POST", "/api/convert", {**form, "singer": workspace["singer"].replace("alice", "bob")}))
    assert job["state"] == "error" and "bob.f0.json: the singer's F0 range file is missing" in job["error"], job


def test_pitch_csv_round_trip_and_excel_edits(server, workspace, tmp_path):
    from pitch.csv_io import read_f0_csv

    client = Client(server[0])
    client.call("POST", "/api/input", {"path": workspace["song"]})
    f0 = np.linspace(200, 400, 150)
    f0[10:20] = 0
    status, data, headers = client.call("POST", "/api/pitch.csv", {"f0": f0.tolist()}, raw=True)
    assert status == 200 and 'filename="take1.csv"' in headers["Content-Disposition"]
    (tmp_path / "p.csv").write_bytes(data)
    np.testing.assert_allclose(read_f0_csv(tmp_path / "p.csv"), f0, atol=0.006)
    status, back = client.call("POST", "/api/load_csv?name=p.csv", data)
    np.testing.assert_allclose(back["f0"], f0, atol=0.006)
    excel = "\ufefftime;f0\r\n" + "".join(f"{i / 100:.2f};{hz:.1f}\r\n".replace(".", ",") for i, hz in enumerate(f0))
    status, back = client.call("POST", "/api/load_csv?name=excel.csv", excel.encode("utf-8"))
    assert status == 200 and np.allclose(back["f0"], np.round(f0, 1), atol=0.006)
    status, reply = client.call("POST", "/api/load_csv?name=other.csv", b"f0\n" + b"220\n" * 500)
    assert status == 400 and reply["error"].startswith("other.csv:") and "another audio file" in reply["error"]
    status, reply = client.call("POST", "/api/load_csv?name=bad.csv", b"time,f0\n0.00,abc\n")
    assert status == 400 and "bad.csv, line 2" in reply["error"] and "work" not in reply["error"]


def test_bad_requests_get_one_clear_message(server, workspace, tmp_path):
    client = Client(server[0])
    outside = write_song(tmp_path / "outside.wav")
    blip = write_song(tmp_path / "blip.wav", seconds=0.05).read_bytes()
    cases = [
        (("POST", "/api/convert", {**FORM, "model": workspace["model"], "singer": workspace["singer"]}),
         "no input audio yet"),
        (("POST", "/api/input", {"path": str(outside)}), "not inside the audio folders"),
        (("POST", "/api/input", {"path": str(workspace["root"] / "songs" / ".." / ".." / "outside.wav")}),
         "not inside the audio folders"),
        (("POST", "/api/input", {"path": str(workspace["root"] / "songs" / "broken.wav")}),
         "broken.wav: cannot read this audio file"),
        (("POST", "/api/upload?name=song.mp3", b"\x00garbage" * 100), "song.mp3: cannot read this audio file"),
        (("POST", "/api/upload?name=blip.wav", blip), "blip.wav: 0.05 s is too short"),
        (("POST", "/api/upload?name=big.wav", b"\x00" * (2 * 2 ** 20)), "over the 1 MB upload limit"),
        (("GET", "/api/result", None), "nothing converted yet"),
        (("GET", "/api/nothing", None), "no such API call"),
    ]
    for (method, path, body), expected in cases:
        status, reply = client.call(method, path, body)
        assert status in (400, 404, 413) and expected in reply["error"], (path, reply)
        assert "Traceback" not in reply["error"] and "/work/" not in reply["error"].replace(str(tmp_path), "")
    client.call("POST", "/api/input", {"path": workspace["song"]})
    for changes, expected in [({"model": str(outside)}, "not inside the model folders"),
                              ({"singer": str(outside)}, "not inside the singer folders"),
                              ({"singer": workspace["song"]}, "not a readable .npy speaker vector"),
                              ({"pitch_method": "guess"}, "pitch method 'guess'"),
                              ({"shift": "up"}, "shift: 'up' is not a number"),
                              ({"precision": "fp16"}, "needs a CUDA device"),
                              ({"protect": 0.7}, "protect 0.7: choose a value in [0, 0.5]"),
                              ({"protect": 0.3}, "protect shields unvoiced frames from retrieval"),
                              ({"loudness_mix": 2}, "loudness mix 2: choose a value in [0, 1]"),
                              ({"f0": [220.0] * 20}, "belongs to another audio file")]:
        body = {**FORM, "model": workspace["model"], "singer": workspace["singer"], **changes}
        status, reply = client.call("POST", "/api/convert", body)
        if status == 200:  # errors found while the job runs come back in the job
            reply = {"error": client.wait((status, reply))["error"]}
        assert expected in reply["error"], (changes, reply)
    import http.client

    connection = http.client.HTTPConnection(*server[1].server_address[:2])
    connection.request("GET", "/api/options", headers={"Host": "evil.example:7860"})  # DNS rebinding
    assert connection.getresponse().status == 403
    client.session = "bad id"
    assert "session id" in client.call("GET", "/api/job")[1]["error"]


def test_two_tabs_converting_at_once_keep_their_own_songs(server, workspace):
    tabs = [Client(server[0]), Client(server[0])]
    lengths = (0.7, 1.1)
    for tab, seconds in zip(tabs, lengths):
        path = workspace["root"] / "songs" / f"len{seconds}.wav"
        write_song(path, seconds)
        status, info = tab.call("POST", f"/api/upload?name=len{seconds}.wav", path.read_bytes())
        assert status == 200 and info["name"] == f"len{seconds}.wav"
    results = [None, None]

    def run(i):
        results[i] = converted(tabs[i], model=workspace["model"], singer=workspace["singer"])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r["seconds"] for r in results] == list(lengths)
    assert [r["input"] for r in results] == [f"len{s}.wav" for s in lengths]


def test_allowed_folders_refuse_links_out(tmp_path):
    (tmp_path / "allowed").mkdir()
    (tmp_path / "secret.pth").write_bytes(b"x")
    os.symlink(tmp_path / "secret.pth", tmp_path / "allowed" / "link.pth")
    (tmp_path / "allowed" / "ok.pth").write_bytes(b"x")
    folders = AllowedFolders([tmp_path / "allowed"], "model")
    assert folders.check(tmp_path / "allowed" / "ok.pth", "--model-dir").endswith("ok.pth")
    with pytest.raises(PathNotAllowed, match="not inside the model folders"):
        folders.check(tmp_path / "allowed" / "link.pth", "--model-dir")
    assert folders.list(("*.pth",)) == [str(tmp_path / "allowed" / "link.pth"), str(tmp_path / "allowed" / "ok.pth")]


def test_spectrogram_rows_follow_the_note_axis():
    t = np.arange(16000) / 16000
    image = note_spectrogram(np.sin(2 * np.pi * 440 * t), 100)
    assert image.shape == (len(row_notes()), 100) and image.dtype == np.uint8
    assert abs(row_notes()[image[:, 50].argmax()] - 69) <= 0.5  # A4


def test_chunk_progress_reaches_a_callback():
    from svc.chunking import Crossfade

    seen = []
    joined = Crossfade(250, 4, 100, 10, progress=lambda done, total: seen.append((done, total)))
    for start, end in joined:
        joined.add(np.zeros((end - start) * 4))
    assert seen == [(0, 3), (1, 3), (2, 3)]


def test_cli_names_a_busy_port(capsys):
    import socket

    import svc_webui
    from tests.svc_fixtures import TINY

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(SystemExit) as exit_info:
            svc_webui.main(["--port", str(busy.getsockname()[1]), "--config", TINY])
    assert exit_info.value.code == 1
    assert "choose another with --port" in capsys.readouterr().err
