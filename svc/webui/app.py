"""svc_webui.py's one call: parsed options -> a running server (until Ctrl+C or SIGTERM)."""
import errno
import signal
import socket
import sys
from contextlib import suppress
from dataclasses import fields

from common.runtime import tune_cpu_runtime
from svc.webui.engine import Engine, WebSettings
from svc.webui.server import make_server, more_open_files


def listen_error(host, port, err):
    """What a failed bind means, in words (only a busy port is "another program")."""
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if err.errno == errno.EADDRINUSE:
        return f"cannot listen on {where}: another program uses the port; choose another with --port."
    if err.errno == errno.EACCES:
        return f"cannot listen on {where}: permission denied (ports below 1024 need root); choose --port 1024 or above."
    if err.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT) or isinstance(err, socket.gaierror):
        return (f"cannot listen on {where}: this machine has no such address ({err.strerror or err}); give one of "
                f"its addresses with --host (127.0.0.1 for this machine only).")
    return f"cannot listen on {where}: {err.strerror or err}."


def run_webui(args):
    tune_cpu_runtime()
    more_open_files()
    same = {f.name: getattr(args, f.name) for f in fields(WebSettings) if hasattr(args, f.name)}
    engine = Engine(WebSettings(**same, model_dirs=args.model_dir, singer_dirs=args.singer_dir,
                                audio_dirs=args.audio_dir))
    try:
        server = make_server(engine, args.host, args.port, max_waiting=args.max_queued, verbose=args.verbose)
    except OSError as err:
        raise ValueError(listen_error(args.host, args.port, err)) from None
    host, port = server.server_address[:2]
    # SIGTERM (kill, systemd, docker stop) ends the server as Ctrl+C does, so the work folder goes
    with suppress(ValueError):  # not the main thread (tests calling run_webui from a thread)
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        shown = f"[{host}]" if ":" in host else host
        print(f"SVC web app on http://{shown}:{port}/  (Ctrl+C stops it)", file=sys.stderr, flush=True)
        if host not in ("127.0.0.1", "localhost", "::1"):
            print(f"warning: listening on {host}: anyone who can reach this machine can convert with your models "
                  f"and read the allowed folders.", file=sys.stderr)
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped.", file=sys.stderr)
    finally:
        server.server_close()
        server.api.close()
    return 0
