"""svc_webui.py under a flood (issue 25), on 127.0.0.1 only: 1000 stalled connections and 30 tabs
converting at once. `GET /` must answer within 1 s throughout, the server's memory stay under
2x idle + one job (and come back near idle after), and every job either finish or be refused with
a message. Run with -s to see the figures."""
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

from tests.webui_fixtures import Client, workspace, write_song  # noqa: F401 (fixtures)

pytestmark = pytest.mark.slow
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TABS, STALLED = 30, 1000
FORM = {"pitch_method": "fcpe", "seed": 1, "no_noise": True}


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1)) / 1024


class Sampler(threading.Thread):
    """Peak RSS of the server and the slowest `GET /` while running."""

    def __init__(self, pid, base):
        super().__init__(daemon=True)
        self.pid, self.base = pid, base
        self.peak, self.slowest, self.pages, self.page_errors = 0.0, 0.0, 0, []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            started = time.time()
            try:
                with urllib.request.urlopen(self.base + "/", timeout=5) as res:
                    res.read()
                self.pages += 1
            except OSError as err:
                self.page_errors.append(str(err))
            self.slowest = max(self.slowest, time.time() - started)
            self.stop.wait(0.1)


def start_server(workspace, tmp_path):
    from tests.svc_fixtures import TINY

    root = workspace["root"]
    args = [sys.executable, os.path.join(ROOT, "svc_webui.py"), "--port", "0", "--config", TINY, "--device", "cpu",
            "--model-dir", str(root / "models"), "--singer-dir", str(root / "singer"),
            "--audio-dir", str(root / "songs"), "--whisper-checkpoint", workspace["whisper"],
            "--hubert-checkpoint", workspace["hubert"], "--speaker-checkpoint", workspace["speaker"],
            "--eval-judges", "off"]
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    env.pop("SVC_WEBUI_QUIET", None)
    process = subprocess.Popen(args, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    line = process.stderr.readline()
    port = int(re.search(r"http://127\.0\.0\.1:(\d+)/", line).group(1))
    log = []
    threading.Thread(target=lambda: log.extend(process.stderr), daemon=True).start()
    return process, f"http://127.0.0.1:{port}", port, log


def tab_converts(base, workspace, song):
    """One tab: session, upload, convert, wait. ('done', seconds) or ('refused'/'error', message)."""
    started = time.time()
    try:
        tab = Client(base)
    except AssertionError as err:  # the session itself refused: its message
        return "refused", str(err)
    status, reply = tab.call("POST", "/api/upload?name=song.wav", song)
    if status != 200:
        return "refused", reply["error"]
    status, reply = tab.call("POST", "/api/convert", {**FORM, "model": workspace["model"],
                                                      "singer": workspace["singer"]})
    if status != 200:
        return "refused", reply["error"]
    job = tab.wait((status, reply), timeout=600)
    return (job["state"], time.time() - started) if job["state"] == "done" else ("error", job["error"])


def test_flood_of_stalled_connections_and_conversions(workspace, tmp_path):
    song_path = write_song(workspace["root"] / "songs" / "flood.wav", seconds=6.0)
    song = song_path.read_bytes()
    process, base, port, log = start_server(workspace, tmp_path)
    stalled = []
    try:
        time.sleep(1.0)
        idle = rss_mb(process.pid)
        sampler = Sampler(process.pid, base)
        sampler.start()
        first = tab_converts(base, workspace, song)  # one job: loads the model and extractors
        assert first[0] == "done", first
        one_job = sampler.peak - idle
        after_one = rss_mb(process.pid)

        for _ in range(STALLED):
            stalled.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        for sock in stalled[:50]:
            sock.sendall(b"POST /api/convert HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # a head that never ends
        sampler.peak = rss_mb(process.pid)
        outcomes = [None] * TABS
        started = time.time()

        def run(i):
            outcomes[i] = tab_converts(base, workspace, song)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(TABS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(900)
        flood_seconds = time.time() - started
        threads_now = len(os.listdir(f"/proc/{process.pid}/task"))
        time.sleep(2.0)
        after = rss_mb(process.pid)
        sampler.stop.set()
        sampler.join()
        done = [o for o in outcomes if o and o[0] == "done"]
        refused = [o for o in outcomes if o and o[0] in ("refused", "error")]
        limit = 2 * idle + one_job
        print(f"\nflood: {TABS} tabs + {STALLED} stalled connections ({flood_seconds:.1f} s): {len(done)} converted, "
              f"{len(refused)} refused with a message ({sorted(set(o[1][:60] for o in refused))}); "
              f"GET / slowest {sampler.slowest * 1000:.0f} ms over {sampler.pages} loads; server threads "
              f"{threads_now}; RSS idle {idle:.0f} MB, after one job {after_one:.0f} MB (job +{one_job:.0f} MB), "
              f"flood peak {sampler.peak:.0f} MB (limit 2x idle + one job = {limit:.0f} MB), "
              f"2 s after {after:.0f} MB")
        assert all(outcomes), "a tab got no answer"
        assert len(done) + len(refused) == TABS and all(o[1] for o in refused)
        assert done, "nothing was converted"
        assert not sampler.page_errors and sampler.slowest < 1.0
        assert sampler.peak < limit
        assert threads_now < 64
    finally:
        for sock in stalled:
            sock.close()
        process.terminate()
        process.wait(30)
