"""A tiny speaker-encoder checkpoint in the real best_model.pth.tar layout, with random weights.

The tensor names follow tests/data/compat/speaker_lstm_checkpoint.json; only the LSTM width and the
layer count are shrunk. Input (80 mel bands) and output (256) keep the real sizes.
"""
import torch

N_MELS = 80
PROJ_DIM = 256


def state_dict_shapes(input_dim=N_MELS, proj_dim=PROJ_DIM, lstm_dim=768, num_layers=3):
    """[(name, shape)] of the Coqui LSTMSpeakerEncoder with projections, in file order."""
    shapes = []
    for i in range(num_layers):
        width = input_dim if i == 0 else proj_dim
        prefix = f"layers.{i}."
        shapes += [
            (prefix + "lstm.weight_ih_l0", (4 * lstm_dim, width)),
            (prefix + "lstm.weight_hh_l0", (4 * lstm_dim, lstm_dim)),
            (prefix + "lstm.bias_ih_l0", (4 * lstm_dim,)),
            (prefix + "lstm.bias_hh_l0", (4 * lstm_dim,)),
            (prefix + "linear.weight", (proj_dim, lstm_dim)),
        ]
    return shapes


def make_checkpoint(path, lstm_dim=16, num_layers=3, seed=0):
    """Write {'model': state dict, 'optimizer': ..., 'step': ..., 'loss': ..., 'date': ...} to `path`."""
    generator = torch.Generator().manual_seed(seed)
    model = {name: torch.randn(shape, generator=generator) * (0.5 / shape[-1] ** 0.5)
             for name, shape in state_dict_shapes(lstm_dim=lstm_dim, num_layers=num_layers)}
    torch.save({
        "model": model,
        "optimizer": {"state": {}, "param_groups": [{"lr": 1e-4, "weight_decay": 1e-6, "params": list(range(len(model)))}]},
        "step": 25000,
        "loss": 0.125,
        "date": "January 01, 2021",
    }, path)
    return path
