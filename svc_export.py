"""Export a training checkpoint as an inference model (public so-vits-svc-5.0 layout).

python svc_export.py --config configs/base.yaml --checkpoint_path chkpt/NAME/NAME_XXXX.pt [--out sovits5.0.pth]
    [--onnx model.onnx]   also write the generator as ONNX (needs: pip install onnx onnxruntime)
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common.cli import add_config_argument, cli_main  # noqa: E402
from common.config import load_config  # noqa: E402
from svc.model_files import export_checkpoint  # noqa: E402
from svc.onnx_export import export_onnx  # noqa: E402


@cli_main
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_argument(parser, help="config the model was trained with (default configs/base.yaml)")
    parser.add_argument("-p", "--checkpoint_path", required=True, help="training checkpoint chkpt/<name>/<name>_<epoch>.pt")
    parser.add_argument("--out", default="sovits5.0.pth", help="exported model file (written atomically)")
    parser.add_argument("--pretrain_out", default=None,
                        help="also write {'model_g', 'model_d'} here, to use as train.pretrain of a new model")
    parser.add_argument("--onnx", default=None,
                        help="also write the conversion generator here as ONNX (opset 17, dynamic length), "
                             "checked against PyTorch with onnxruntime; needs onnx and onnxruntime")
    args = parser.parse_args(argv)
    hp = load_config(args.config)
    for note in export_checkpoint(hp, args.checkpoint_path, args.out, args.pretrain_out):
        print(f"note: {note}")
    print(f"exported {args.checkpoint_path} -> {args.out}")
    if args.onnx:
        print("\n".join(export_onnx(hp, args.checkpoint_path, args.onnx).lines()))


if __name__ == "__main__":
    main()
