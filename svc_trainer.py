"""Train the SVC model: python svc_trainer.py -c configs/base.yaml -n NAME [-p chkpt/NAME/NAME_0010.pt]"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common.cli import add_config_argument, add_device_argument, report_errors  # noqa: E402
from vits.train import AMP_CHOICES, TrainOptions, train  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description="Train the singing-voice-conversion model (so-vits-svc-5.0 layout). "
                                     "Ctrl-C or SIGTERM saves a checkpoint and exits. For several machines, "
                                     "start it with torchrun (RANK/WORLD_SIZE/LOCAL_RANK/MASTER_ADDR are read).")
    add_config_argument(parser, help="YAML config, e.g. configs/base.yaml", required=True)
    parser.add_argument("-n", "--name", required=True,
                        help="run name: checkpoints go to <log.pth_dir>/NAME, logs to <log.log_dir>/NAME")
    parser.add_argument("-p", "--checkpoint", default=None,
                        help="training checkpoint to resume (models, optimizers, step, epoch), e.g. chkpt/NAME/NAME_0010.pt")
    add_device_argument(parser)
    parser.add_argument("--amp", choices=AMP_CHOICES, default=None,
                        help="mixed precision on CUDA (overrides train.amp): none, bf16, or fp16 with a grad scaler")
    parser.add_argument("--max-steps", type=int, default=None,
                        help="stop and save after this many optimizer steps (smoke tests)")
    parser.add_argument("--num-gpus", type=int, default=None,
                        help="DDP processes on this machine, one per GPU (default: all visible GPUs; 1 on CPU; "
                             "on CPU N > 1 runs N gloo processes)")
    parser.add_argument("--master-addr", default="127.0.0.1", help="rendezvous address for --num-gpus > 1")
    parser.add_argument("--master-port", type=int, default=None,
                        help="rendezvous port for --num-gpus > 1 (default: train.port of the config)")
    args = parser.parse_args(argv)
    report_errors(train, TrainOptions(config=args.config, name=args.name, resume=args.checkpoint, device=args.device,
                                      amp=args.amp, max_steps=args.max_steps, num_procs=args.num_gpus,
                                      master_addr=args.master_addr, master_port=args.master_port))


if __name__ == "__main__":
    main()
