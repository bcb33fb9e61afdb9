"""svc_webui.py's one call: parsed options -> a running server (until Ctrl+C)."""
import sys

from common.runtime import tune_cpu_runtime
from svc.webui.engine import Engine, WebSettings
from svc.webui.server import make_server


def settings_from_args(args):
    return WebSettings(config=args.config, model_dirs=args.model_dir, singer_dirs=args.singer_dir,
                       audio_dirs=args.audio_dir, data_svc=args.data_svc, device=args.device,
                       whisper_checkpoint=args.whisper_checkpoint, hubert_checkpoint=args.hubert_checkpoint,
                       chunk_seconds=args.chunk_seconds, overlap_seconds=args.overlap_seconds,
                       max_upload_mb=args.max_upload_mb, speaker_checkpoint=args.speaker_checkpoint,
                       eval_judges=args.eval_judges)


def run_webui(args):
    tune_cpu_runtime()
    engine = Engine(settings_from_args(args))
    try:
        server = make_server(engine, args.host, args.port)
    except OSError as err:
        raise ValueError(f"cannot listen on {args.host}:{args.port} ({err.strerror}): another program uses the "
                         f"port; choose another with --port.") from None
    host, port = server.server_address[:2]
    print(f"SVC web app on http://{host}:{port}/  (Ctrl+C stops it)", file=sys.stderr, flush=True)
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: listening on {host}: anyone who can reach this machine can convert with your models "
              f"and read the allowed folders.", file=sys.stderr)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        server.api.close()
    return 0
