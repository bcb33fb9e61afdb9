"""Downloader against a loopback HTTP server (Range support, byte counting); nothing leaves 127.0.0.1."""
import hashlib
import http.server
import io
import os
import socket
import subprocess
import sys
import threading

import pytest
import torch

from common import download as dl

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Files(http.server.BaseHTTPRequestHandler):
    """Serves `server.files[path]`; honours `Range: bytes=N-` unless `server.ignore_range`."""

    def do_GET(self):
        srv = self.server
        body = srv.files.get(self.path.split("?")[0])
        srv.requests.append((self.path, self.headers.get("Range")))
        if body is None:
            self.send_error(404)
            return
        start = 0
        ranged = self.headers.get("Range", "")
        if ranged.startswith("bytes=") and not srv.ignore_range:
            start = int(ranged[len("bytes="):].split("-")[0])
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        self.send_response(206 if start else 200)
        self.send_header("Content-Type", srv.content_type)
        self.send_header("Content-Length", str(len(body) - start))
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.end_headers()
        payload = body[start:]
        if srv.cut_after is not None:  # simulate a dropped connection once
            payload, srv.cut_after = payload[:srv.cut_after], None
            self.close_connection = True
        srv.bytes_served += len(payload)  # counted before sending: the client may finish first
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Files)
    srv.files, srv.requests, srv.bytes_served = {}, [], 0
    srv.ignore_range, srv.cut_after, srv.content_type = False, None, "application/octet-stream"
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=5)


def blob(n, seed=0):
    return bytes((i * 7 + seed) % 251 for i in range(n))


def sha(data):
    return hashlib.sha256(data).hexdigest()


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_full_download_checks_hash_and_leaves_no_part(server, tmp_path):
    data = blob(300_000)
    server.files["/w.bin"] = data
    dest = tmp_path / "sub" / "w.bin"
    dl.download(server.url + "/w.bin", dest, sha256=sha(data), progress=False)
    assert dest.read_bytes() == data
    assert not os.path.exists(str(dest) + ".part")
    assert server.bytes_served == len(data)


def test_hash_mismatch_is_an_error_and_leaves_nothing(server, tmp_path):
    server.files["/w.bin"] = blob(50_000)
    dest = tmp_path / "w.bin"
    with pytest.raises(dl.DownloadError, match="SHA-256 mismatch"):
        dl.download(server.url + "/w.bin", dest, sha256=sha(b"other"), progress=False)
    assert not dest.exists() and not os.path.exists(str(dest) + ".part")


def test_resume_from_part_file_fetches_only_the_rest(server, tmp_path):
    data = blob(200_000, seed=3)
    server.files["/w.bin"] = data
    dest = tmp_path / "w.bin"
    with open(str(dest) + ".part", "wb") as f:
        f.write(data[:120_000])
    dl.download(server.url + "/w.bin", dest, sha256=sha(data), progress=False)
    assert dest.read_bytes() == data
    assert server.bytes_served == 80_000
    assert server.requests[-1][1] == "bytes=120000-"


def test_dropped_connection_keeps_part_and_next_run_resumes(server, tmp_path):
    data = blob(150_000, seed=5)
    server.files["/w.bin"] = data
    server.cut_after = 60_000
    dest = tmp_path / "w.bin"
    with pytest.raises(dl.DownloadError, match="resume"):
        dl.download(server.url + "/w.bin", dest, sha256=sha(data), progress=False)
    assert os.path.getsize(str(dest) + ".part") == 60_000 and not dest.exists()
    dl.download(server.url + "/w.bin", dest, sha256=sha(data), progress=False)
    assert dest.read_bytes() == data and server.bytes_served == len(data)


def test_server_without_range_support_restarts_cleanly(server, tmp_path):
    data = blob(40_000, seed=9)
    server.files["/w.bin"] = data
    server.ignore_range = True
    dest = tmp_path / "w.bin"
    with open(str(dest) + ".part", "wb") as f:
        f.write(b"x" * 10_000)
    dl.download(server.url + "/w.bin", dest, sha256=sha(data), progress=False)
    assert dest.read_bytes() == data


def test_complete_part_file_is_finished_without_refetching(server, tmp_path):
    data = blob(30_000, seed=2)
    server.files["/w.bin"] = data
    dest = tmp_path / "w.bin"
    with open(str(dest) + ".part", "wb") as f:
        f.write(data)
    dl.download(server.url + "/w.bin", dest, sha256=sha(data), progress=False)
    assert dest.read_bytes() == data and server.bytes_served == 0


def test_web_page_instead_of_file_is_rejected(server, tmp_path):
    server.files["/w.bin"] = b"<!DOCTYPE html><html>confirm download</html>"
    server.content_type = "text/html"
    with pytest.raises(dl.DownloadError, match="web page"):
        dl.download(server.url + "/w.bin", tmp_path / "w.bin", progress=False)
    assert not (tmp_path / "w.bin").exists()


def test_offline_gives_the_manual_route(tmp_path, capsys):
    port = closed_port()
    weight = dl.WEIGHTS["hubert"]
    with pytest.raises(dl.DownloadError) as err:
        dl.fetch_weight(weight, tmp_path, mirror=f"http://127.0.0.1:{port}", progress=False)
    assert err.value.offline
    code = dl.download_weights("hubert", str(tmp_path), mirror=f"http://127.0.0.1:{port}", progress=False,
                               out=sys.stdout)
    text = capsys.readouterr().out
    assert code == 1
    assert "offline" in text and "by hand" in text
    assert weight.urls[0] in text and os.path.join(str(tmp_path), weight.target) in text


def torch_file_bytes(obj):
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


@pytest.mark.slow
def test_cli_with_mirror_fetches_into_public_layout(server, tmp_path):
    model = torch_file_bytes({"model": {"w": torch.zeros(3)}})
    server.files["/speaker_pretrain/best_model.pth.tar"] = model
    server.files["/hubert_pretrain/hubert-soft-0d54a1f4.pt"] = b"this is not a torch file" * 100
    env = dict(os.environ, no_proxy="127.0.0.1,localhost")
    done = subprocess.run([sys.executable, os.path.join(ROOT, "svc_download.py"), "--only", "speaker,hubert",
                           "--dest", str(tmp_path), "--mirror", server.url + "/", "--no-progress"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert (tmp_path / "speaker_pretrain" / "best_model.pth.tar").read_bytes() == model
    assert done.returncode == 1  # the hubert file is no torch checkpoint: refused, not kept
    assert "hubert: FAILED" in done.stderr and "not a readable PyTorch checkpoint" in done.stderr
    assert not (tmp_path / "hubert_pretrain" / "hubert-soft-0d54a1f4.pt").exists()
    again = subprocess.run([sys.executable, os.path.join(ROOT, "svc_download.py"), "--only", "speaker",
                            "--dest", str(tmp_path), "--mirror", server.url], capture_output=True, text=True,
                           env=env, timeout=120)
    assert again.returncode == 0 and "already present" in again.stderr


def test_only_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown name"):
        dl.parse_only("whisper,nonsense")
    assert [w.name for w in dl.parse_only("")] == list(dl.WEIGHTS)


def test_registry_targets_match_default_paths():
    from common import paths

    assert dl.WEIGHTS["whisper"].target == paths.WHISPER_CKPT
    assert dl.WEIGHTS["hubert"].target == paths.HUBERT_CKPT
    assert dl.WEIGHTS["speaker"].target == paths.SPEAKER_CKPT
    assert dl.WEIGHTS["pretrain"].target == paths.SVC_PRETRAIN
    assert dl.WEIGHTS["whisper"].sha256 in dl.WEIGHTS["whisper"].urls[0]
