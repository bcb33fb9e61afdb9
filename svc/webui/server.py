"""The HTTP side: a stdlib ThreadingHTTPServer serving the page (static/) and the JSON API (api.py).

Every error reaches the page as `{"error": "<one line>"}`; tracebacks go to the server log only.
"""
import json
import os
import sys
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from svc.webui.api import USER_ERRORS, Api, Reply, user_message

STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8", ".png": "image/png"}
MAX_JSON_BYTES = 64 * 2 ** 20   # an edited curve of a long song is a few MB of JSON
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def host_name(host_header):
    """`127.0.0.1:7860` -> `127.0.0.1`, `[::1]:7860` -> `[::1]`."""
    host = (host_header or "").strip().lower()
    return host if host.endswith("]") or ":" not in host else host.rsplit(":", 1)[0]


class Request:
    def __init__(self, handler, query, body):
        self.query = query
        self.body = body
        self.session = handler.headers.get("X-Session") or query.get("session")

    def json(self):
        if not self.body:
            return {}
        try:
            data = json.loads(self.body)
        except ValueError:
            raise ValueError("the request body is not valid JSON: reload the page.") from None
        if not isinstance(data, dict):
            raise ValueError("the request body must be a JSON object: reload the page.")
        return data


class Handler(BaseHTTPRequestHandler):
    api: Api = None               # set by make_server
    server_version = "svc-webui"
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        if os.environ.get("SVC_WEBUI_QUIET") != "1":
            sys.stderr.write("%s - %s\n" % (self.address_string(), format % args))

    def send(self, status, body, content_type, headers=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status, data):
        self.send(status, json.dumps(data).encode("utf-8"), "application/json")

    def read_body(self, limit):
        length = int(self.headers.get("Content-Length") or 0)
        if length > limit:
            self.rfile.read(length)  # drain it, so the reply reaches the page
            raise ValueError(f"the request is {length / 2 ** 20:.0f} MB, over the {limit / 2 ** 20:.0f} MB limit.")
        return self.rfile.read(length) if length else b""

    def serve_static(self, path):
        name = "index.html" if path == "/" else path[len("/static/"):]
        ext = os.path.splitext(name)[1]
        full = os.path.join(STATIC, name)
        if "/" in name or name.startswith(".") or ext not in STATIC_TYPES or not os.path.isfile(full):
            return self.send_json(HTTPStatus.NOT_FOUND, {"error": f"no such page: {path}"})
        with open(full, "rb") as f:
            self.send(HTTPStatus.OK, f.read(), STATIC_TYPES[ext])

    def dispatch(self):
        if self.server.loopback_only and host_name(self.headers.get("Host")) not in LOOPBACK_NAMES:
            # a page of another site that made its name resolve to 127.0.0.1 (DNS rebinding) gets nothing
            return self.send_json(HTTPStatus.FORBIDDEN, {"error": "this server answers only to 127.0.0.1 / "
                                                                  "localhost; open it by that address."})
        url = urlparse(self.path)
        if self.command == "GET" and (url.path == "/" or url.path.startswith("/static/")):
            return self.serve_static(url.path)
        route = Api.ROUTES.get((self.command, url.path))
        if route is None:
            return self.send_json(HTTPStatus.NOT_FOUND, {"error": f"no such API call: {self.command} {url.path}"})
        try:
            limit = self.api.engine.settings.max_upload_mb * 2 ** 20 + 2 ** 20 if route == "upload" else MAX_JSON_BYTES
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            reply = getattr(self.api, route)(Request(self, query, self.read_body(limit)))
        except Exception as err:
            if not isinstance(err, USER_ERRORS):
                self.log_error("%s", traceback.format_exc())
            return self.send_json(HTTPStatus.BAD_REQUEST if isinstance(err, USER_ERRORS)
                                  else HTTPStatus.INTERNAL_SERVER_ERROR, {"error": user_message(err)})
        if isinstance(reply, Reply):
            return self.send(HTTPStatus.OK, reply.body, reply.content_type, reply.headers)
        self.send_json(HTTPStatus.OK, reply)

    do_GET = do_POST = do_HEAD = dispatch


def make_server(engine, host="127.0.0.1", port=7860, work_dir=None):
    """A ThreadingHTTPServer serving the app (port 0: any free port; see server.server_address)."""
    api = Api(engine, work_dir, log=lambda text: sys.stderr.write(text + "\n"))
    handler = type("SvcHandler", (Handler,), {"api": api})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    server.loopback_only = host in ("127.0.0.1", "localhost", "::1")
    server.api = api
    return server
