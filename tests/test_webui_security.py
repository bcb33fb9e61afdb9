"""svc_webui.py against other sites, floods and bad numbers (issue 25), and its first-hour gaps
(issue 27: the model list, --fast, n/a reasons, the log). All traffic stays on 127.0.0.1."""
import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

import numpy as np
import pytest
import torch

from svc.webui.api import Api
from tests.webui_fixtures import Client, server, workspace, write_song  # noqa: F401 (fixtures)

FORM = {"pitch_method": "fcpe", "seed": 1, "no_noise": True}
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
POST_ROUTES = sorted(path for (method, path) in Api.ROUTES if method == "POST")


@contextlib.contextmanager
def own_server(workspace, **options):
    """A server of its own (for limits the shared one must not have); yields (base, server, log lines)."""
    from svc.webui.engine import Engine, WebSettings
    from svc.webui.server import make_server
    from tests.svc_fixtures import TINY

    root = workspace["root"]
    settings = WebSettings(config=TINY, model_dirs=options.pop("model_dirs", [str(root / "models")]),
                           singer_dirs=[str(root / "singer")], audio_dirs=[str(root / "songs")], device="cpu",
                           whisper_checkpoint=workspace["whisper"], hubert_checkpoint=workspace["hubert"],
                           max_upload_mb=1.0, speaker_checkpoint=workspace["speaker"], eval_judges="off",
                           data_svc=str(root / "data_svc"))
    httpd = make_server(Engine(settings), "127.0.0.1", 0, work_dir=str(root / "work"), **options)
    lines = []
    httpd.log = lines.append
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", httpd, lines
    finally:
        httpd.shutdown()
        httpd.server_close()


def raw_request(base, method, path, headers, body=b""):
    host, port = urllib.parse.urlsplit(base).netloc.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.request(method, path, body=body, headers=headers)
    res = connection.getresponse()
    data = res.read()
    connection.close()
    return res.status, data, res


def with_input(client, workspace):
    status, reply = client.call("POST", "/api/input", {"path": workspace["song"]})
    assert status == 200, reply


# -- 1. cross-site requests -------------------------------------------------------------------
def test_cross_site_posts_get_403_on_every_state_changing_route(server, workspace):
    base = server[0]
    tab = Client(base)
    with_input(tab, workspace)
    body = json.dumps({**FORM, "model": workspace["model"], "singer": workspace["singer"],
                       "path": workspace["song"], "f0": [220.0] * 150}).encode()
    assert len(POST_ROUTES) >= 8
    for path in POST_ROUTES:
        # the attack: a "simple" cross-site POST, session id in the URL
        attack = {"Content-Type": "text/plain", "Origin": "http://evil.example"}
        status, data, _ = raw_request(base, "POST", f"{path}?session={tab.session}&name=x.wav", attack, body)
        assert status == 403 and "another site" in json.loads(data)["error"], (path, status, data)
        # the same with the page's own headers copied: still another site
        forged = {"Content-Type": "application/json", "Origin": "http://evil.example", "X-Session": tab.session,
                  "X-SVC-Upload": "1"}
        assert raw_request(base, "POST", path, forged, body)[0] == 403, path
        # no Origin and no Sec-Fetch-Site: same-origin (a form from a privacy-stripped browser, a script)
        assert raw_request(base, "POST", path, {"Content-Type": "text/plain", "X-Session": tab.session},
                           body)[0] == 403, path
        assert raw_request(base, "POST", path, {"Content-Type": "application/json", "X-Session": tab.session,
                                                "Sec-Fetch-Site": "cross-site"}, body)[0] == 403, path
    # nothing of that reached the tab: no job was started
    assert tab.call("GET", "/api/job")[1]["job"] is None
    # the page's own calls: Origin of this server, or Sec-Fetch-Site: same-origin without one
    status, reply = tab.call("POST", "/api/input", {"path": workspace["song"]})
    assert status == 200, reply
    status, data, _ = raw_request(base, "POST", "/api/input", {"Content-Type": "application/json",
                                                               "X-Session": tab.session,
                                                               "Sec-Fetch-Site": "same-origin"},
                                  json.dumps({"path": workspace["song"]}).encode())
    assert status == 200, data


def test_same_origin_calls_still_need_json_and_the_upload_header(server, workspace):
    tab = Client(server[0])
    song = open(workspace["song"], "rb").read()
    status, reply = tab.call("POST", "/api/input", None, headers={"Content-Type": "text/plain"})
    assert status == 415 and "application/json" in reply["error"]
    status, reply = tab.call("POST", "/api/upload?name=a.wav", song, headers={"X-SVC-Upload": "0"})
    assert status == 403 and "X-SVC-Upload" in reply["error"]
    status, reply = tab.call("POST", "/api/upload?name=a.wav", song)
    assert status == 200, reply


def test_session_ids_are_issued_by_the_server_and_never_in_the_url(server, workspace):
    base = server[0]
    stranger = Client(base, session=False)
    stranger.session = "a" * 32  # well-formed, but never issued
    status, reply = stranger.call("POST", "/api/input", {"path": workspace["song"]})
    assert status == 403 and "not known to the server" in reply["error"]
    assert stranger.call("GET", "/api/job")[0] == 403
    tab = Client(base)
    assert len(tab.session) >= 20 and tab.session != Client(base).session
    with_input(tab, workspace)
    status, data, _ = raw_request(base, "GET", f"/api/job?session={tab.session}", {})
    assert status in (400, 403) and "X-Session" in json.loads(data)["error"]
    # asking again with a known id keeps it (a reload of the tab keeps its song)
    status, reply = tab.call("POST", "/api/session", {})
    assert reply == {"session": tab.session, "new": False}


def converted(client, workspace, **changes):
    start = client.call("POST", "/api/convert", {**FORM, "model": workspace["model"], "singer": workspace["singer"],
                                                 **changes})
    return client.wait(start)


def test_tabs_with_work_are_never_evicted(workspace):
    with own_server(workspace, max_sessions=3) as (base, httpd, log):
        owners = [Client(base) for _ in range(2)]
        for tab in owners:
            with_input(tab, workspace)
            assert converted(tab, workspace)["state"] == "done"
        # 8 <img>-style requests of another page can no longer make sessions; honest new tabs may only
        # push out tabs without work
        for _ in range(10):
            idle = Client(base)
            with_input(idle, workspace)
        for tab in owners:
            status, result = tab.call("GET", "/api/result")
            assert status == 200 and result["input"] == "take1.wav"
        third = idle  # the last idle tab gets a result too: now every slot holds work
        assert converted(third, workspace)["state"] == "done"
        status, reply = Client(base, session=False).call("POST", "/api/session", {})
        assert status == 503 and "hold results or running jobs" in reply["error"]
        for tab in owners + [third]:
            assert tab.call("GET", "/api/result")[0] == 200


# -- 2. bounded work --------------------------------------------------------------------------
def test_one_queue_shows_positions_and_refuses_past_its_length(workspace):
    with own_server(workspace, max_waiting=2) as (base, httpd, log):
        release = threading.Event()
        real = httpd.api.engine.convert

        def slow_convert(session, job, req, f0=None):
            release.wait(60)
            return real(session, job, req, f0)

        httpd.api.engine.convert = slow_convert
        tabs = [Client(base) for _ in range(4)]
        starts = []
        for tab in tabs:
            with_input(tab, workspace)
            starts.append(tab.call("POST", "/api/convert", {**FORM, "model": workspace["model"],
                                                            "singer": workspace["singer"]}))
        deadline = time.time() + 10
        while tabs[0].call("GET", "/api/job")[1]["job"]["state"] != "running" and time.time() < deadline:
            time.sleep(0.05)
        jobs = [tab.call("GET", "/api/job")[1]["job"] for tab in tabs[:3]]
        assert [j["state"] for j in jobs] == ["running", "queued", "queued"]
        assert [j["position"] for j in jobs[1:]] == [1, 2]
        assert "waiting in line: 2 jobs before this one" in jobs[2]["stage"]
        assert starts[3][0] == 503 and "2 jobs are waiting" in starts[3][1]["error"]
        again = tabs[0].call("POST", "/api/convert", {**FORM, "model": workspace["model"], "singer": workspace["singer"]})
        assert again[0] == 400 and "still running in this tab" in again[1]["error"]  # one job per tab
        release.set()
        for tab, start in zip(tabs[:3], starts[:3]):
            assert tab.wait(start)["state"] == "done"
        assert sum("503" in line and "2 jobs are waiting" in line for line in log) == 1  # failures are logged


def read_reply(sock, timeout=5.0):
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_bodies_are_refused_from_their_declared_length(server):
    host, port = server[1].server_address[:2]
    tab = Client(server[0])
    for length, expected in (("419430400", b"413"), ("-1", b"400"), (None, b"411")):
        with socket.create_connection((host, port), timeout=5) as sock:
            head = (f"POST /api/upload?name=big.wav HTTP/1.1\r\nHost: {host}:{port}\r\nOrigin: http://{host}:{port}\r\n"
                    f"X-Session: {tab.session}\r\nX-SVC-Upload: 1\r\n")
            if length is not None:
                head += f"Content-Length: {length}\r\n"
            sock.sendall((head + "\r\n").encode())  # the head only: the body never comes
            started = time.time()
            reply = read_reply(sock)
            assert reply.split(b" ")[1] == expected, reply
            assert time.time() - started < 3  # answered without waiting for (or reading) a body


def test_deep_json_and_huge_numbers_get_a_clear_message(server, workspace):
    tab = Client(server[0])
    with_input(tab, workspace)
    deep = b"[" * 100000 + b"]" * 100000
    status, data, _ = raw_request(server[0], "POST", "/api/convert", {"Content-Type": "application/json",
                                                                     "Origin": server[0], "X-Session": tab.session},
                                  deep)
    assert status == 400 and "nests deeper" in json.loads(data)["error"], data
    for seed in (1e300, -1, 2 ** 64):
        status, reply = tab.call("POST", "/api/convert", {**FORM, "model": workspace["model"],
                                                          "singer": workspace["singer"], "seed": seed})
        assert status == 400 and "seed" in reply["error"] and "Overflow" not in reply["error"], reply
    status, reply = tab.call("POST", "/api/convert", {**FORM, "model": workspace["model"],
                                                      "singer": workspace["singer"], "shift": 1e400})
    assert status == 400 and "shift" in reply["error"]


@pytest.mark.slow  # a subprocess or a server: not in the quick loop
def test_silent_connections_hold_no_thread_and_the_page_still_answers(server):
    host, port = server[1].server_address[:2]
    before = threading.active_count()
    stalled = [socket.create_connection((host, port), timeout=5) for _ in range(300)]
    for sock in stalled[:50]:  # a head that never ends (slowloris) holds no thread either
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    try:
        time.sleep(0.5)
        started = time.time()
        status, data, _ = raw_request(server[0], "GET", "/", {})
        assert status == 200 and b"<html" in data and time.time() - started < 1.0
        assert threading.active_count() - before < 20, threading.active_count() - before
    finally:
        for sock in stalled:
            sock.close()


def test_a_burst_of_connections_fits_the_listen_backlog(workspace):
    """Connections arriving while the server is not accepting wait in the backlog (5 before: the rest
    timed out or were reset)."""
    from svc.webui.engine import Engine, WebSettings
    from svc.webui.server import make_server
    from tests.svc_fixtures import TINY

    httpd = make_server(Engine(WebSettings(config=TINY, model_dirs=[], singer_dirs=[])), "127.0.0.1", 0)
    try:  # serve_forever not running: nothing is accepted
        connected = []
        for _ in range(64):
            sock = socket.socket()
            sock.settimeout(0.3)
            try:
                sock.connect(httpd.server_address)
                connected.append(sock)
            except OSError:
                sock.close()
        assert len(connected) == 64
        for sock in connected:
            sock.close()
    finally:
        httpd.server_close()
        httpd.api.close()


# -- 4. download names ------------------------------------------------------------------------
def test_unicode_and_control_characters_in_names(server, workspace):
    tab = Client(server[0])
    song = open(workspace["song"], "rb").read()
    status, info = tab.call("POST", f"/api/upload?name={urllib.parse.quote('歌.wav')}", song)
    assert status == 200 and info["name"] == "歌.wav"
    assert converted(tab, workspace)["state"] == "done"
    status, wav, headers = tab.call("GET", "/api/result.wav?download=1", raw=True)
    assert status == 200 and len(wav) > 1000
    assert "filename*=UTF-8''%E6%AD%8C_svc.wav" in headers["Content-Disposition"]
    status, csv, headers = tab.call("POST", "/api/pitch.csv", {"f0": [220.0] * info["frames"]}, raw=True)
    assert status == 200 and csv.startswith(b"time") and "%E6%AD%8C.csv" in headers["Content-Disposition"]

    evil = "a\r\nSet-Cookie: pwned=1\r\nX: .wav"
    status, info = tab.call("POST", f"/api/upload?name={urllib.parse.quote(evil)}", song)
    assert status == 200 and "\r" not in info["name"] and "\n" not in info["name"]
    assert converted(tab, workspace)["state"] == "done"
    status, wav, headers = tab.call("GET", "/api/result.wav?download=1", raw=True)
    assert status == 200 and "Set-Cookie" not in headers and "pwned" not in "".join(headers)
    assert "\n" not in headers["Content-Disposition"]


# -- issue 27: the model list, --fast, n/a reasons, the log --------------------------------
def test_model_list_holds_models_not_every_pt(workspace, tmp_path):
    from svc.webui.engine import Engine, WebSettings
    from tests.svc_fixtures import TINY

    folder = tmp_path / "models"
    (folder / "data_svc" / "specs").mkdir(parents=True)
    for name in ("sovits5.0.pth", "tiny_1.pt"):
        os.link(os.path.join(os.path.dirname(workspace["model"]), os.path.basename(
            workspace["model"] if name.endswith(".pth") else workspace["checkpoint"])), folder / name)
    torch.save(torch.zeros(4, 10), folder / "data_svc" / "specs" / "take1.spec.pt")  # a spectrogram
    os.link(workspace["whisper"], folder / "whisper.pt")
    os.link(workspace["hubert"], folder / "hubert.pt")
    (folder / "notes.pt").write_bytes(b"<html>not a checkpoint</html>")
    os.link(workspace["checkpoint"], folder / "tiny_2.tmp-k1ll3d.pt")  # a killed save of the older naming
    options = Engine(WebSettings(config=TINY, model_dirs=[str(folder)], singer_dirs=[])).options()
    assert sorted(os.path.basename(m["path"]) for m in options["models"]) == ["sovits5.0.pth", "tiny_1.pt"]


def test_fast_preset_is_offered_and_converts(server, workspace):
    from svc.webui.engine import ConvertRequest

    tab = Client(server[0])
    assert "--fast" in tab.call("GET", "/api/options")[1]["fast"]
    assert 'id="fast"' in raw_request(server[0], "GET", "/", {})[1].decode()
    assert ConvertRequest.from_json({"fast": True}).fast is True
    with_input(tab, workspace)
    assert converted(tab, workspace, fast=True)["state"] == "done"


def test_evaluate_says_why_a_measure_is_na(server, workspace, monkeypatch):
    from common.metrics import MetricError

    def no_words(a, b):
        raise MetricError("the output has no voiced frame to compare words on")

    monkeypatch.setattr("svc.evaluate.frame_cosine", no_words)
    tab = Client(server[0])
    with_input(tab, workspace)
    assert converted(tab, workspace)["state"] == "done"
    assert tab.wait(tab.call("POST", "/api/evaluate"))["state"] == "done"
    metrics = {m["key"]: m for m in tab.call("GET", "/api/result")[1]["metrics"]}
    assert metrics["ppg_cos"]["value"] is None
    assert metrics["ppg_cos"]["why"] == "the output has no voiced frame to compare words on"
    assert metrics["spk_sim"]["value"] is not None and metrics["spk_sim"]["why"] is None


def test_requests_logged_only_when_verbose_and_every_failure_with_its_message(workspace):
    for verbose in (False, True):
        with own_server(workspace, verbose=verbose) as (base, httpd, log):
            tab = Client(base)
            for _ in range(5):
                tab.call("GET", "/api/job")
            status, reply = tab.call("POST", "/api/input", {"path": "/etc/passwd"})
            assert status == 400
            polls = [line for line in log if "/api/job" in line]
            assert len(polls) == (5 if verbose else 0), log
            failures = [line for line in log if "/api/input" in line and "400" in line]
            assert any("not inside the audio folders" in line for line in failures), log


# -- 4. the work folder, 5. the messages ------------------------------------------------------
def start_cli(args, tmp_path):
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    env.pop("SVC_WEBUI_QUIET", None)
    process = subprocess.Popen([sys.executable, os.path.join(ROOT, "svc_webui.py"), *args], cwd=ROOT, env=env,
                               stderr=subprocess.PIPE, text=True)
    line = process.stderr.readline()
    return process, line


@pytest.mark.slow  # a subprocess or a server: not in the quick loop
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_stop_signals_remove_the_work_folder(tmp_path, stop):
    from tests.svc_fixtures import TINY

    process, line = start_cli(["--port", "0", "--config", TINY, "--model-dir", str(tmp_path)], tmp_path)
    try:
        assert "SVC web app on http://127.0.0.1:" in line, line
        assert [p.name for p in tmp_path.glob("svc_webui_*")], "no work folder made"
        process.send_signal(stop)
        assert process.wait(30) == 0
        assert not list(tmp_path.glob("svc_webui_*"))
        assert "Traceback" not in process.stderr.read()
    finally:
        process.kill()


def test_host_ipv6_listens_or_says_why(workspace):
    import errno

    from svc.webui.app import listen_error
    from svc.webui.engine import Engine, WebSettings
    from svc.webui.server import make_server
    from tests.svc_fixtures import TINY

    for code in (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL):
        message = listen_error("::1", 7860, OSError(code, os.strerror(code)))
        assert "another program" not in message and "--host" in message
    assert "another program uses the port" in listen_error("::1", 7860, OSError(errno.EADDRINUSE, "in use"))
    try:
        probe = socket.socket(socket.AF_INET6)
        probe.bind(("::1", 0))
        probe.close()
    except OSError:
        pytest.skip("no IPv6 loopback here")
    httpd = make_server(Engine(WebSettings(config=TINY, model_dirs=[], singer_dirs=[])), "::1", 0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        connection = http.client.HTTPConnection("::1", httpd.server_address[1], timeout=10)
        connection.request("GET", "/", headers={"Host": f"[::1]:{httpd.server_address[1]}"})
        assert connection.getresponse().status == 200
    finally:
        httpd.shutdown()
        httpd.server_close()
        httpd.api.close()


@pytest.mark.slow  # a subprocess or a server: not in the quick loop
def test_a_body_that_stops_midway_is_timed_out_with_a_message(workspace):
    with own_server(workspace) as (base, httpd, log):
        httpd.RequestHandlerClass.timeout = 1.0  # the socket read timeout (10 s in use)
        tab = Client(base)
        host, port = httpd.server_address[:2]
        with socket.create_connection((host, port), timeout=10) as sock:
            sock.sendall((f"POST /api/input HTTP/1.1\r\nHost: {host}:{port}\r\nOrigin: {base}\r\n"
                          f"X-Session: {tab.session}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
                          '{"path": ').encode())
            reply = read_reply(sock, timeout=10)
            while not reply.endswith(b"}"):
                chunk = sock.recv(4096)
                if not chunk:
                    break
                reply += chunk
        assert reply.split(b" ")[1] == b"408" and b"stopped after 9 of 100 bytes" in reply, reply
        assert any("408" in line for line in log) and not any("Traceback" in line for line in log)
