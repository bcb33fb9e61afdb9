"""Export a training checkpoint as an inference model ({'model_g': ...}, public exported layout).

The exported generator holds exactly the weights of SynthesizerInfer (content encoder, flow,
decoder) in its state-dict order, still weight-normalised in the legacy weight_g/weight_v form,
so the file equals what the public svc_export.py writes. Optionally the generator and
discriminator are also saved as a pretrain file ({'model_g', 'model_d'}) to start new
training from.
"""
from collections import OrderedDict

from common.checkpoint import CheckpointError, save_checkpoint
from svc.model_files import check_fits, is_training_layout, read_model_file


def build_infer_model(hp):
    from vits.models import SynthesizerInfer

    return SynthesizerInfer(hp.data.filter_length // 2 + 1, hp.data.segment_size // hp.data.hop_length, hp)


def exported_generator(hp, generator, path="<state dict>"):
    """The exported-layout state dict taken from a (training or exported) generator state dict."""
    expected = OrderedDict((k, v.shape) for k, v in build_infer_model(hp).state_dict().items())
    check_fits(generator, expected, path)
    return OrderedDict((k, generator[k].detach().clone()) for k in expected)


def export_checkpoint(hp, checkpoint_path, out_path, pretrain_out=None):
    """Write the exported model (and optionally the pretrain file). Returns notes for the user."""
    ckpt = read_model_file(checkpoint_path)
    notes = []
    if not is_training_layout(ckpt["model_g"]):
        notes.append(f"{checkpoint_path} is already an exported model; it is rewritten in the exported layout")
    save_checkpoint({"model_g": exported_generator(hp, ckpt["model_g"], checkpoint_path)}, out_path)
    if pretrain_out:
        if "model_d" not in ckpt or not is_training_layout(ckpt["model_g"]):
            raise CheckpointError(f"{checkpoint_path} has no discriminator (model_d) or no training generator: "
                                  f"a pretrain file needs a training checkpoint chkpt/<name>/<name>_<epoch>.pt.")
        save_checkpoint({"model_g": ckpt["model_g"], "model_d": ckpt["model_d"]}, pretrain_out)
    return notes
