"""The HTTP side, the page (static/) and the JSON API (api.py) on a stdlib HTTP server: errors reach
the page as `{"error": "<one line>"}`, tracebacks only the log. Only the page itself can act: a POST
needs this server's Origin (or `Sec-Fetch-Site: same-origin`), JSON a JSON type, uploads the
X-SVC-Upload header (CORS), every call its session in X-Session (never the URL). Bodies are refused
from their declared length; a poller holds connections until their head arrives."""
import io
import json
import os
import queue
import resource
import selectors
import socket
import sys
import threading
import time
import traceback
from contextlib import suppress
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import numpy as np

from svc.webui.api import Api, Reply
from svc.webui.jobs import USER_ERRORS, QueueFull, user_message
from svc.webui.session import SessionFull, UnknownSession

STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8", ".png": "image/png"}
MAX_JSON_BYTES = 64 * 2 ** 20   # an edited curve of a long song is a few MB of JSON
MAX_JSON_DEPTH = 16             # the page sends objects of flat lists (depth 2)
BRACKET_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")   # json_depth: +1 and -1 as int8
NOT_BRACKETS = bytes(set(range(256)) - set(b"[{]}"))
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
UPLOAD_ROUTES = ("upload", "load_csv")   # raw bytes, marked by the UPLOAD_HEADER
UPLOAD_HEADER = "X-SVC-Upload"
READ_TIMEOUT = 10.0    # seconds one socket read may wait
IDLE_SECONDS = 20.0    # a connection whose request head is not complete by then is closed
MAX_HEAD = 64 * 1024   # request line + headers
MIN_BODY_RATE = 256 * 1024  # bytes/s a body must at least arrive at (after a 5 s grace)
ERROR_STATUS = (((QueueFull, SessionFull), HTTPStatus.SERVICE_UNAVAILABLE),  # first match; else a bug: 500
                (UnknownSession, HTTPStatus.FORBIDDEN), (USER_ERRORS, HTTPStatus.BAD_REQUEST))


class HttpError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def host_name(host_header):
    """`127.0.0.1:7860` -> `127.0.0.1`, `[::1]:7860` -> `[::1]`."""
    host = (host_header or "").strip().lower()
    return host if host.endswith("]") or ":" not in host else host.rsplit(":", 1)[0]


def json_depth(body):
    """An upper bound of the nesting depth of a JSON text (brackets inside strings count too)."""
    step = np.frombuffer(body.translate(BRACKET_STEPS, NOT_BRACKETS), dtype=np.int8)  # the brackets only
    return int(np.cumsum(step, dtype=np.int32).max()) if step.size else 0


class Request:
    def __init__(self, handler, query, body):
        self.query = query
        self.body = body
        self.session = handler.headers.get("X-Session")

    def json(self):
        if not self.body:
            return {}
        if json_depth(self.body) > MAX_JSON_DEPTH:
            raise ValueError(f"the request body nests deeper than {MAX_JSON_DEPTH} levels; the page sends "
                             f"flat objects: reload the page.")
        try:
            data = json.loads(self.body)
        except (ValueError, RecursionError):
            raise ValueError("the request body is not valid JSON: reload the page.") from None
        if not isinstance(data, dict):
            raise ValueError("the request body must be a JSON object: reload the page.")
        return data


class PrefixedSocket(io.RawIOBase):
    """A connection's bytes: first those the poller read already (the request head), then the socket's."""

    def __init__(self, prefix, sock):
        self.prefix, self.sock = io.BytesIO(prefix), sock

    def readable(self):
        return True

    def readinto(self, buffer):
        return self.prefix.readinto(buffer) or self.sock.recv_into(buffer)


class Handler(BaseHTTPRequestHandler):
    server_version = "svc-webui"
    protocol_version = "HTTP/1.1"
    timeout = READ_TIMEOUT

    def setup(self):
        self.request, head = self.request  # the socket, and the request head the poller read from it
        super().setup()
        self.rfile.close()  # the socket's own reader: ours reads the head first
        self.rfile = io.BufferedReader(PrefixedSocket(head, self.connection))

    unread_body = False

    def finish(self):
        super().finish()
        if self.unread_body:  # let the client read the refusal instead of a reset: discard (never keep) a little
            with suppress(OSError):
                self.connection.shutdown(socket.SHUT_WR)
                self.connection.settimeout(0.2)
                until, seen = time.monotonic() + 1.0, 0
                while time.monotonic() < until and seen < 16 * 2 ** 20:
                    chunk = self.connection.recv(2 ** 16)
                    if not chunk:
                        break
                    seen += len(chunk)

    def log_message(self, format, *args):
        if self.server.verbose:
            self.server.log("%s - %s" % (self.address_string(), format % args))

    def send(self, status, body, content_type, headers=None):
        self.send_response(status)
        self.close_connection = True  # each request its own connection: none holds a thread idle
        fixed = {"Content-Type": content_type, "Content-Length": str(len(body)), "Cache-Control": "no-store",
                 "X-Content-Type-Options": "nosniff", "Connection": "close"}
        for key, value in {**fixed, **(headers or {})}.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_failure(self, status, message):
        """Every refused or failed call is logged with its message: one line, verbose or not."""
        self.server.log(f"{self.command} {urlparse(self.path).path} -> {int(status)}: {message}")
        self.send(status, json.dumps({"error": message}).encode("utf-8"), "application/json")

    # -- what a request must carry ------------------------------------------------------------
    def check_same_origin(self):
        """A POST is the page's own only when its Origin is this server (what a browser sends)."""
        origin = self.headers.get("Origin")
        host = (self.headers.get("Host") or "").strip().lower()
        if origin is None:
            if (self.headers.get("Sec-Fetch-Site") or "").lower() == "same-origin":
                return
            raise HttpError(HTTPStatus.FORBIDDEN, "refused: this call changes state and came without an Origin; "
                                                  "only the page of this server may make it.")
        if not host or origin.strip().lower() not in (f"http://{host}", f"https://{host}"):
            raise HttpError(HTTPStatus.FORBIDDEN, f"refused: a call from another site ({origin[:100]}); only the "
                                                  f"page of this server may make it.")

    def check_body_kind(self, route):
        kind = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if route in UPLOAD_ROUTES:
            if self.headers.get(UPLOAD_HEADER) != "1":
                raise HttpError(HTTPStatus.FORBIDDEN, f"refused: an upload without the {UPLOAD_HEADER} header the "
                                                      f"page sends; reload the page.")
        elif kind != "application/json":
            raise HttpError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"refused: the body must be application/json, not "
                                                               f"{kind or 'untyped'}; reload the page.")

    def declared_length(self, upload):
        """The body's length from its header, refused (before reading) when missing, bad or too big."""
        if self.headers.get("Transfer-Encoding"):
            raise HttpError(HTTPStatus.LENGTH_REQUIRED, "refused: send the body with a Content-Length, not chunked.")
        text = self.headers.get("Content-Length")
        if text is None:
            if self.command == "POST":
                raise HttpError(HTTPStatus.LENGTH_REQUIRED, "refused: a POST needs a Content-Length header.")
            return 0
        if not text.strip().isdigit():
            raise HttpError(HTTPStatus.BAD_REQUEST, f"refused: Content-Length {text[:40]!r} is not a byte count.")
        length = int(text)
        limit = self.server.api.engine.settings.max_upload_mb * 2 ** 20 if upload else MAX_JSON_BYTES
        if length > limit:
            size = f"is {length / 2 ** 20:.1f} MB, over the {limit / 2 ** 20:g} MB"
            raise HttpError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"the upload {size} upload limit. Give its "
                            f"path instead (svc_webui.py --audio-dir), or raise --max-upload-mb." if upload
                            else f"the request {size} limit.")
        return length

    def read_body(self, length):
        """Exactly `length` bytes, arriving at MIN_BODY_RATE at least (a trickle is cut off)."""
        deadline = time.monotonic() + 5.0 + length / MIN_BODY_RATE
        parts, left = [], length
        while left:
            if time.monotonic() > deadline:
                raise HttpError(HTTPStatus.REQUEST_TIMEOUT, "the request body arrived too slowly.")
            try:
                chunk = self.rfile.read1(min(left, 2 ** 20))
            except TimeoutError:
                raise HttpError(HTTPStatus.REQUEST_TIMEOUT, f"the request body stopped after {length - left} of "
                                                            f"{length} bytes.") from None
            if not chunk:
                raise HttpError(HTTPStatus.BAD_REQUEST, f"the request body ended after {length - left} of "
                                                        f"{length} bytes.")
            parts.append(chunk)
            left -= len(chunk)
        return b"".join(parts)

    def serve_static(self, path):
        name = "index.html" if path == "/" else path[len("/static/"):]
        ext = os.path.splitext(name)[1]
        full = os.path.join(STATIC, name)
        if "/" in name or name.startswith(".") or ext not in STATIC_TYPES or not os.path.isfile(full):
            return self.send_failure(HTTPStatus.NOT_FOUND, f"no such page: {path}")
        with open(full, "rb") as f:
            self.send(HTTPStatus.OK, f.read(), STATIC_TYPES[ext])

    def dispatch(self):
        if self.server.loopback_only and host_name(self.headers.get("Host")) not in LOOPBACK_NAMES:
            # a page of another site that made its name resolve to 127.0.0.1 (DNS rebinding) gets nothing
            return self.send_failure(HTTPStatus.FORBIDDEN, "this server answers only to 127.0.0.1 / localhost; "
                                                           "open it by that address.")
        url = urlparse(self.path)
        try:
            if self.command == "POST":
                self.check_same_origin()  # before anything else: another site learns nothing
            if self.command in ("GET", "HEAD") and (url.path == "/" or url.path.startswith("/static/")):
                return self.serve_static(url.path)
            route = Api.ROUTES.get((self.command, url.path))
            if route is None:
                raise HttpError(HTTPStatus.NOT_FOUND, f"no such API call: {self.command} {url.path}")
            if self.command == "POST":
                self.check_body_kind(route)
            body = self.read_body(self.declared_length(route in UPLOAD_ROUTES))
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            if "session" in query:
                raise HttpError(HTTPStatus.BAD_REQUEST, "refused: the session id goes in the X-Session header, "
                                                        "never in the URL; reload the page.")
            reply = self.server.api.call(route, Request(self, query, body))
        except HttpError as err:
            self.unread_body = err.status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
            return self.send_failure(err.status, str(err))
        except Exception as err:
            if not isinstance(err, USER_ERRORS):
                self.server.log(traceback.format_exc())
            status = next((s for kinds, s in ERROR_STATUS if isinstance(err, kinds)),
                          HTTPStatus.INTERNAL_SERVER_ERROR)
            return self.send_failure(status, user_message(err))
        if not isinstance(reply, Reply):
            reply = Reply(json.dumps(reply).encode("utf-8"), "application/json")
        self.send(HTTPStatus.OK, reply.body, reply.content_type, reply.headers)

    do_GET = do_POST = do_HEAD = dispatch


class AppServer(ThreadingHTTPServer):
    """ThreadingHTTPServer with bounded threads: accepted connections wait in a poller (no thread)
    until their request arrives, then one of `handler_threads` threads serves it; silent ones are
    closed after IDLE_SECONDS, and at most `max_idle` wait at once (the oldest go first)."""
    request_queue_size = 128   # the listen backlog: a burst of page loads is not reset
    handler_threads = 16
    max_idle = 4096

    def __init__(self, address, handler):
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.log = lambda text: None if os.environ.get("SVC_WEBUI_QUIET") == "1" else sys.stderr.write(text + "\n")
        self.verbose = False
        self._closed = False
        self._accepted = queue.SimpleQueue()
        self._ready = queue.SimpleQueue()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        for i in range(self.handler_threads):
            threading.Thread(target=self._serve_ready, daemon=True, name=f"svc-webui-http-{i}").start()
        threading.Thread(target=self._poll, daemon=True, name="svc-webui-poller").start()
        super().__init__(address, handler)  # a failed bind calls server_close, which stops the threads

    def process_request(self, request, client_address):
        """Called for each accepted connection: park it in the poller until it speaks."""
        self._accepted.put((request, client_address))
        self._wake()

    def _wake(self):
        with suppress(OSError):
            self._wake_w.send(b"x")

    def _poll(self):
        waiting = {}  # socket -> [address, accepted at, head bytes so far]
        while not self._closed:
            for key, _ in self._selector.select(timeout=0.5):
                if key.fileobj is self._wake_r:
                    with suppress(OSError):
                        self._wake_r.recv(4096)
                    continue
                sock = key.fileobj
                entry = waiting[sock]
                try:
                    chunk = sock.recv(MAX_HEAD)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    chunk = b""
                entry[2] += chunk
                complete = b"\r\n\r\n" in entry[2] or b"\n\n" in entry[2]
                if chunk and not complete and len(entry[2]) < MAX_HEAD:
                    continue  # more of the head to come
                self._selector.unregister(sock)
                del waiting[sock]
                if not chunk:  # closed before a whole request
                    self.shutdown_request(sock)
                    continue
                self._ready.put((sock, bytes(entry[2]), entry[0]))
            while not self._accepted.empty():  # the poller is its only reader: get() will not wait
                sock, address = self._accepted.get()
                try:
                    sock.setblocking(False)
                    self._selector.register(sock, selectors.EVENT_READ)
                    waiting[sock] = [address, time.monotonic(), b""]
                except (ValueError, OSError):
                    self.shutdown_request(sock)
            now = time.monotonic()
            over = len(waiting) - self.max_idle
            for sock, (address, since, _) in list(waiting.items()):  # insertion order: oldest first
                if over > 0 or now - since > IDLE_SECONDS:
                    over -= 1
                    self._selector.unregister(sock)
                    del waiting[sock]
                    self.shutdown_request(sock)
        for sock in waiting:
            self.shutdown_request(sock)

    def _serve_ready(self):
        while True:
            sock, head, address = self._ready.get()
            if sock is None:
                return
            try:
                sock.setblocking(True)
                sock.settimeout(READ_TIMEOUT)
                self.finish_request((sock, head), address)  # Handler.setup unpacks it
            except Exception:
                self.handle_error(sock, address)
            finally:
                self.shutdown_request(sock)

    def handle_error(self, request, client_address):
        self.log(f"connection from {client_address[0]} failed: {traceback.format_exc().strip().splitlines()[-1]}")

    def server_close(self):
        self._closed = True
        self._wake()
        for _ in range(self.handler_threads):
            self._ready.put((None, None, None))
        super().server_close()


def more_open_files():
    """Raise the soft limit of open files to the hard one: every parked connection is one."""
    with suppress(ValueError, OSError):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 65536, hard))


def make_server(engine, host="127.0.0.1", port=7860, work_dir=None, max_waiting=8, max_sessions=16,
                verbose=False):
    """An AppServer serving the app (port 0: any free port; see server.server_address). One job runs at
    a time (the Engine's models and their per-request settings are shared), the rest wait in a line of
    at most `max_waiting`. `verbose` logs every request (failures always)."""
    server = AppServer((host, port), type("SvcHandler", (Handler,), {}))  # a class of its own (its timeout)
    server.api = Api(engine, work_dir, log=server.log, max_waiting=max_waiting, max_sessions=max_sessions)
    server.verbose = verbose
    server.loopback_only = host in ("127.0.0.1", "localhost", "::1")
    return server
