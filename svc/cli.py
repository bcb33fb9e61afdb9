"""What the root svc_*.py scripts share: one clear error line instead of a traceback."""
import sys


def report_errors(main, *args, **kwargs):
    """Run `main`; a bad input (ValueError family, missing file) prints `error: ...` and exits 1."""
    try:
        return main(*args, **kwargs)
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        # CheckpointError, AudioError, F0CsvError, FeatureError, TimbreMixError are ValueErrors
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
