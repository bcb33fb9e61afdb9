"""Train the SVC model: python svc_trainer.py -c configs/base.yaml -n NAME [-p chkpt/NAME/NAME_0010.pt]"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common.checkpoint import CheckpointError  # noqa: E402
from common.cli import add_config_argument, add_device_argument, fail  # noqa: E402
from vits.data_utils import DatasetError  # noqa: E402
from vits.train import AMP_CHOICES, TrainOptions, train  # noqa: E402
from vits.train_utils import TrainingError  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description="Train the singing-voice-conversion model (so-vits-svc-5.0 layout). "
                                     "Ctrl-C or SIGTERM finishes the step, saves a checkpoint where the epoch stands and "
                                     "exits (a second Ctrl-C aborts); -p resumes at the next batch. For several machines, "
                                     "start it with torchrun (RANK/WORLD_SIZE/LOCAL_RANK/MASTER_ADDR are read).")
    add_config_argument(parser, help="YAML config, e.g. configs/base.yaml", required=True)
    parser.add_argument("-n", "--name", required=True,
                        help="run name: checkpoints go to <log.pth_dir>/NAME, logs to <log.log_dir>/NAME")
    parser.add_argument("-p", "--checkpoint", dest="resume", metavar="CHECKPOINT", default=None,
                        help="training checkpoint to resume (models, optimizers, step, epoch), e.g. chkpt/NAME/NAME_0010.pt")
    add_device_argument(parser)
    parser.add_argument("--amp", choices=AMP_CHOICES, default=None,
                        help="mixed precision on CUDA (overrides train.amp): none, bf16, or fp16 with a grad scaler")
    parser.add_argument("--max-steps", type=int, default=None,
                        help="stop and save after this many optimizer steps (smoke tests)")
    parser.add_argument("--num-gpus", dest="num_procs", metavar="NUM_GPUS", type=int, default=None,
                        help="DDP processes on this machine, one per GPU (default: all visible GPUs; 1 on CPU; "
                             "on CPU N > 1 runs N gloo processes)")
    parser.add_argument("--master-addr", default="127.0.0.1", help="rendezvous address for --num-gpus > 1")
    parser.add_argument("--master-port", type=int, default=None,
                        help="rendezvous port for --num-gpus > 1 (default: train.port of the config)")
    parser.add_argument("--overwrite", action="store_true",
                        help="start a new run even though <log.pth_dir>/NAME already holds checkpoints (they are "
                             "overwritten); without it such a run refuses and says how to resume")
    parser.add_argument("--stop-when-done", action="store_true",
                        help="stop (and save) when the validation score has not improved for train.patience "
                             "validations while the training mel loss still falls; the best model so far is "
                             "<log.pth_dir>/NAME/best.pt either way")
    args = parser.parse_args(argv)
    try:
        train(TrainOptions(**vars(args)))  # the flags' dest names are TrainOptions' fields
    except (DatasetError, CheckpointError, TrainingError, FileNotFoundError, ValueError) as e:
        sys.exit(fail(e))
    except KeyboardInterrupt:
        print("stopped: aborted without saving (second Ctrl-C)", file=sys.stderr)
        sys.exit(130)
    except Exception as e:  # one line on the console; the traceback is in train.log
        # 'Type: message' (an error from a DataLoader worker: its first and last lines)
        lines = [line.strip() for line in str(e).strip().splitlines() if line.strip()]
        text = f"{type(e).__name__}: {' '.join(lines[:1] + lines[1:][-1:])}" if lines else type(e).__name__
        sys.exit(fail(f"{text} (details in logs/{args.name}/train.log)"))


if __name__ == "__main__":
    main()
