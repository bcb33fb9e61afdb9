"""LSTM d-vector network of the Mozilla/Coqui TTS speaker encoder (`best_model.pth.tar` layout: a stack
of single-layer LSTMs `layers.<i>.lstm.*`, each followed by a bias-free projection `layers.<i>.linear.weight`;
the d-vector is the L2-normalised projection at the last frame)."""
import numpy as np
from torch import nn
from torch.nn import functional as F

WINDOW_FRAMES = 250  # frames per evaluation window (about 4 s at hop 256 / 16 kHz)
NUM_WINDOWS = 10     # evenly spaced windows averaged into one utterance embedding


class ProjectedLSTM(nn.Module):
    def __init__(self, input_size, hidden_size, proj_size):
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden_size, batch_first=True)
        self.linear = nn.Linear(hidden_size, proj_size, bias=False)

    def forward(self, x):  # [B, T, input_size] -> [B, T, proj_size]
        if x.is_cuda:
            self.lstm.flatten_parameters()
        hidden, _ = self.lstm(x)
        return self.linear(hidden)


class LSTMSpeakerEncoder(nn.Module):
    def __init__(self, input_dim=80, proj_dim=256, lstm_dim=768, num_lstm_layers=3):
        super().__init__()
        self.input_dim, self.proj_dim = input_dim, proj_dim
        widths = [input_dim] + [proj_dim] * (num_lstm_layers - 1)
        self.layers = nn.Sequential(*(ProjectedLSTM(w, lstm_dim, proj_dim) for w in widths))

    def forward(self, mel):
        """mel [B, T, input_dim] -> unit-length d-vectors [B, proj_dim]."""
        projected = self.layers(mel)  # [B, T, proj_dim]
        return F.normalize(projected[:, -1], p=2, dim=1)


def window_starts(num_frames, window=WINDOW_FRAMES, count=NUM_WINDOWS):
    """(start frames, length) of `count` windows of `window` frames spread evenly over the utterance
    (overlapping on short input; an utterance shorter than one window is used whole, `count` times)."""
    length = min(window, num_frames)
    starts = np.linspace(0, num_frames - length, num=count).astype(np.int64)
    return starts, length


def sizes_from_state_dict(state_dict):
    """(input_dim, proj_dim, lstm_dim, num_lstm_layers) read off the tensor shapes; KeyError if absent."""
    num_layers = 0
    while f"layers.{num_layers}.lstm.weight_ih_l0" in state_dict:
        num_layers += 1
    input_dim = state_dict["layers.0.lstm.weight_ih_l0"].shape[1]
    lstm_dim = state_dict["layers.0.lstm.weight_hh_l0"].shape[1]
    proj_dim = state_dict["layers.0.linear.weight"].shape[0]
    return int(input_dim), int(proj_dim), int(lstm_dim), num_layers

