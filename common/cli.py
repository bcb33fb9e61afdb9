"""What every command-line script shares: flags worded once, and one error line instead of a traceback."""
import functools
import sys

# CheckpointError, AudioError, ConfigError, DatasetError, F0CsvError, ... are ValueErrors;
# StepError, DownloadError and "CUDA is not available" are RuntimeErrors; missing files OSErrors
ERRORS = (ValueError, OSError, RuntimeError, ImportError)


def add_device_argument(parser, default="auto", help=None):
    parser.add_argument("--device", default=default, help=help or "where the models run: auto (CUDA when "
                        "available, else CPU), cpu, cuda or cuda:N (default auto)")


def add_config_argument(parser, help="model config: spectrogram settings, feature widths, clip lengths, model "
                        "sizes (default configs/base.yaml; every key: common/config_schema.py)", required=False):
    parser.add_argument("-c", "--config", required=required, default=None if required else "configs/base.yaml",
                        help=help)


def fail(message):
    print(f"error: {message}", file=sys.stderr)
    return 1


def report_errors(main, *args, **kwargs):
    """Run `main`: a bad input prints `error: ...` and exits 1, Ctrl-C prints one line and exits 130."""
    try:
        return main(*args, **kwargs)
    except ERRORS as e:
        sys.exit(fail(e))
    except KeyboardInterrupt as e:
        print(f"stopped: {str(e) or 'Ctrl-C'}", file=sys.stderr)
        sys.exit(130)


def cli_main(main):
    """Decorator form of report_errors for a script's `main(argv=None)`."""
    @functools.wraps(main)
    def reported(*args, **kwargs):
        return report_errors(main, *args, **kwargs)
    return reported
