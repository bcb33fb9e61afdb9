"""Shared by the web app tests: a workspace with a tiny model, a singer and a song, and a server on it."""
import json
import os
import threading
import urllib.error
import urllib.request

import numpy as np
import pytest
import soundfile as sf

from tests.svc_fixtures import TINY, smooth_features  # noqa: F401 (fixtures)

SONG_SECONDS = 1.5


def write_song(path, seconds=SONG_SECONDS, hz=220.0, rate=22050, octave_up=None):
    """A sung-like tone: a harmonic-rich 220 Hz note with vibrato (CREPE tracks it well);
    `octave_up` (start, end) seconds: an octave higher there (what a tracker's octave error looks like)."""
    t = np.arange(int(rate * seconds)) / rate
    hz = hz * 2 ** (0.2 * np.sin(2 * np.pi * 5 * t) / 12)
    if octave_up:
        hz = np.where((t >= octave_up[0]) & (t < octave_up[1]), 2 * hz, hz)
    phase = 2 * np.pi * np.cumsum(hz) / rate
    wav = sum(0.3 / k * np.sin(k * phase) for k in range(1, 6))
    sf.write(path, wav.astype(np.float32), rate, subtype="PCM_16")
    return path


@pytest.fixture(scope="module")
def workspace(model_files, tmp_path_factory):  # noqa: F811
    """Folders as a user has them: models/, data_svc/singer/, songs/, and tiny extractor weights."""
    from tests import tiny_hubert, tiny_speaker, tiny_whisper

    root = tmp_path_factory.mktemp("webui")
    for name in ("models", "singer", "songs", "weights"):
        (root / name).mkdir()
    for path in model_files:
        os.link(path, root / "models" / path.name)
    np.save(root / "singer" / "alice.spk.npy", smooth_features(10)[2])
    np.save(root / "singer" / "bob.spk.npy", smooth_features(10, seed=1)[2])  # no retrieval index
    from svc.retrieval import default_index_paths, write_index

    rng = np.random.default_rng(0)  # alice's "training frames" for retrieval: the tiny model's widths
    for path, dim, kind in zip(default_index_paths(root / "data_svc", "alice"), (256, 16), ("hubert", "whisper")):
        write_index(path, rng.standard_normal((300, dim)).astype(np.float32), kind)
    write_song(root / "songs" / "take1.wav")
    write_song(root / "songs" / "jump.wav", octave_up=(0.70, 0.80))
    (root / "singer" / "alice.f0.json").write_text('{"low_hz": 430, "high_hz": 500, "median_hz": 460}')
    (root / "songs" / "broken.wav").write_bytes(b"RIFF not really a wav file")
    return {"root": root, "model": str(root / "models" / model_files[0].name),
            "checkpoint": str(root / "models" / model_files[1].name),
            "singer": str(root / "singer" / "alice.spk.npy"), "song": str(root / "songs" / "take1.wav"),
            "whisper": str(tiny_whisper.make_checkpoint(root / "weights" / "whisper.pt")),
            "hubert": str(tiny_hubert.make_checkpoint(root / "weights" / "hubert.pt")),
            "speaker": str(tiny_speaker.make_checkpoint(root / "weights" / "speaker.pth.tar"))}


@pytest.fixture(scope="module")
def server(workspace):
    """(base URL, the server) of a web app on a free port, serving the workspace with tiny extractors."""
    from svc.webui.engine import Engine, WebSettings
    from svc.webui.server import make_server

    root = workspace["root"]
    settings = WebSettings(config=TINY, model_dirs=[str(root / "models")], singer_dirs=[str(root / "singer")],
                           audio_dirs=[str(root / "songs")], device="cpu", whisper_checkpoint=workspace["whisper"],
                           hubert_checkpoint=workspace["hubert"], max_upload_mb=1.0,
                           speaker_checkpoint=workspace["speaker"], eval_judges="off",
                           data_svc=str(root / "data_svc"))
    os.environ["SVC_WEBUI_QUIET"] = "1"
    httpd = make_server(Engine(settings), "127.0.0.1", 0, work_dir=str(root / "work"))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", httpd
    httpd.shutdown()
    httpd.server_close()


class Client:
    """One browser tab's worth of API calls (its own server-issued session id), sent as the page
    sends them: same-origin Origin, JSON bodies typed, uploads marked, the session in a header."""

    def __init__(self, base, session=True):
        self.base = base
        self.session = None
        if session:
            status, reply = self.call("POST", "/api/session", {})
            assert status == 200, reply
            self.session = reply["session"]

    def call(self, method, path, body=None, raw=False, headers=None):
        data, sent = None, {"Origin": self.base} if method == "POST" else {}
        if self.session:
            sent["X-Session"] = self.session
        if isinstance(body, (bytes, bytearray)):
            data, sent["X-SVC-Upload"] = bytes(body), "1"
        elif body is not None or method == "POST":
            data, sent["Content-Type"] = json.dumps(body or {}).encode(), "application/json"
        headers = {**sent, **(headers or {})}
        request = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=120) as res:
                payload = res.read()
                return (res.status, payload, dict(res.headers)) if raw else (res.status, json.loads(payload))
        except urllib.error.HTTPError as err:
            payload = err.read()
            return (err.code, payload, dict(err.headers)) if raw else (err.code, json.loads(payload))

    def wait(self, start, timeout=120):
        """Poll a job until it ends; returns its final state dict."""
        import time

        assert start[0] == 200, start
        deadline = time.time() + timeout
        while time.time() < deadline:
            status, reply = self.call("GET", "/api/job")
            job = reply["job"]
            if job["state"] in ("done", "error"):
                return job
            time.sleep(0.1)
        raise AssertionError(f"job still {job} after {timeout} s")
