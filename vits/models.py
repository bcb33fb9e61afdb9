"""The so-vits-svc-5.0 network: content (prior) encoder, posterior encoder, SNAC flow, decoder.
Sub-module names and registration order follow the public checkpoints (tests/data/compat)."""
import contextlib

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from common.checkpoint import CheckpointError, load_state_dict_checked, to_legacy_weight_norm
from vits import attentions
from vits.modules import WN, ResidualCouplingBlock, SpeakerClassifier, sequence_mask
from vits_decoder.generator import Generator
from vits_decoder.nn_utils import fold_weight_norm_state, has_weight_norm

TRAIN_PPG_NOISE = 1.0  # training-time input noise std of the public model
TRAIN_VEC_NOISE = 2.0
INFER_PPG_NOISE = 0.0001  # tiny PPG noise of the public SynthesizerTrn.infer (validation path)
TRAINING_ONLY_PREFIXES = ("emb_g.", "speaker_classifier.", "enc_q.")  # generator keys only in training files
F0_BINS = 256  # pitch quantisation for the content encoder's pitch embedding


def _hz_to_mel(hz):
    return 1127.0 * np.log(1.0 + hz / 700.0)


MEL_MIN = _hz_to_mel(50.0)
MEL_MAX = _hz_to_mel(1100.0)


def float32_region(like):
    """Mixed precision off inside: the encoders' and flow's exp() and log-scales overflow fp16
    (measured with CPU fp16 autocast: inf gradients in the first step even at a loss scale of 2^8)."""
    return torch.autocast(device_type=like.device.type, enabled=False)


def f0_to_coarse(f0):
    """Hz (torch tensor -> int64 tensor, or numpy array) -> integer bins 1..255 spaced evenly on the
    mel scale over 50..1100 Hz: 0 Hz (unvoiced) and anything at or below 50 Hz -> 1, 1100 Hz and up -> 255."""
    if isinstance(f0, torch.Tensor):
        mel = 1127.0 * torch.log1p(f0.float() / 700.0)
        scaled = (mel - MEL_MIN) * (F0_BINS - 2) / (MEL_MAX - MEL_MIN) + 1.0
        scaled = torch.where(mel > 0, scaled, mel).clamp(1.0, F0_BINS - 1)
        return (scaled + 0.5).long()
    mel = _hz_to_mel(np.asarray(f0, dtype=np.float64))
    scaled = (mel - MEL_MIN) * (F0_BINS - 2) / (MEL_MAX - MEL_MIN) + 1.0
    scaled = np.clip(np.where(mel > 0, scaled, mel), 1.0, F0_BINS - 1)
    return np.floor(scaled + 0.5).astype(np.int64)


def slice_frames(x, starts, length):
    """Cut `length` frames from the last axis of x [B, ..., T] at per-item `starts` [B]."""
    return torch.stack([x[i, ..., int(s): int(s) + length] for i, s in enumerate(starts)])


def random_slice_with_pitch(z, pitch, lengths, length):
    """A random window per item: z [B, C, T], pitch [B, T] -> ([B, C, length], [B, length], starts [B])."""
    if z.size(-1) < length:
        raise ValueError(f"clips of {z.size(-1)} frames are shorter than the decoder window of {length} "
                         f"frames (data.segment_size / hop_length): drop shorter clips or lower segment_size")
    room = (lengths - length + 1).clamp(min=1).to(torch.float32)
    starts = (torch.rand(z.size(0), device=z.device) * room).long()
    return slice_frames(z, starts, length), slice_frames(pitch, starts, length), starts


@contextlib.contextmanager
def seeded(seed, device):
    """Run a block with the torch RNG seeded (None: not), restoring the outer RNG state afterwards."""
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(int(seed))
        yield


class ContentEncoder(nn.Module):
    """PPG [B, T, ppg] + units [B, T, vec] + pitch bins [B, T] -> prior (z, m, logs), mask, features:
    k=5 projections of PPG and units plus a pitch embedding, a relative-position transformer, mean/log-std."""

    def __init__(self, ppg_dim, vec_dim, out_channels, hidden_channels, filter_channels,
                 n_heads=2, n_layers=6, kernel_size=3, p_dropout=0.1):
        super().__init__()
        self.pre = nn.Conv1d(ppg_dim, hidden_channels, kernel_size=5, padding=2)
        self.hub = nn.Conv1d(vec_dim, hidden_channels, kernel_size=5, padding=2)
        self.pit = nn.Embedding(F0_BINS, hidden_channels)
        self.enc = attentions.Encoder(hidden_channels, filter_channels, n_heads, n_layers, kernel_size, p_dropout)
        self.proj = nn.Conv1d(hidden_channels, 2 * out_channels, 1)

    def forward(self, ppg, lengths, vec, pitch_bins, noise_scale=1.0):
        mask = sequence_mask(lengths, ppg.size(1)).unsqueeze(1).to(ppg.dtype)  # [B, 1, T]
        m, logs, x = self.prior(ppg, vec, pitch_bins, mask)
        z = (m + torch.randn_like(m) * torch.exp(logs) * noise_scale) * mask
        return z, m, logs, mask, x

    def prior(self, ppg, vec, pitch_bins, mask):
        """The prior's mean and log-std [B, inter, T] each, and the features x [B, H, T]; no sampling."""
        ppg = ppg.transpose(1, 2)  # [B, ppg, T]
        vec = vec.transpose(1, 2)  # [B, vec, T]
        x = self.pre(ppg) * mask + self.hub(vec) * mask + self.pit(pitch_bins).transpose(1, 2)
        x = self.enc(x * mask, mask)  # [B, H, T]
        m, logs = (self.proj(x) * mask).chunk(2, dim=1)
        return m, logs, x


class PosteriorEncoder(nn.Module):
    """Linear spectrogram [B, F, T] -> posterior (z, m, logs), mask; WaveNet conditioned on g."""

    def __init__(self, in_channels, out_channels, hidden_channels, kernel_size, dilation_rate, n_layers, gin_channels):
        super().__init__()
        self.pre = nn.Conv1d(in_channels, hidden_channels, 1)
        self.enc = WN(hidden_channels, kernel_size, dilation_rate, n_layers, gin_channels=gin_channels)
        self.proj = nn.Conv1d(hidden_channels, 2 * out_channels, 1)

    def forward(self, spec, lengths, g):
        mask = sequence_mask(lengths, spec.size(2)).unsqueeze(1).to(spec.dtype)
        x = self.enc(self.pre(spec) * mask, mask, g=g)
        m, logs = (self.proj(x) * mask).chunk(2, dim=1)
        z = (m + torch.randn_like(m) * torch.exp(logs)) * mask
        return z, m, logs, mask


def _content_encoder(hp):
    v = hp.vits
    return ContentEncoder(v.ppg_dim, v.vec_dim, v.inter_channels, v.hidden_channels, v.filter_channels)


def _flow(hp):
    v = hp.vits
    return ResidualCouplingBlock(v.inter_channels, v.hidden_channels, 5, 1, 4, n_flows=4, spk_channels=v.spk_dim)


def model_sizes(hp):
    """(spec_channels, segment_frames): the two sizes both synthesizers take beside hp."""
    return hp.data.filter_length // 2 + 1, hp.data.segment_size // hp.data.hop_length


class SynthesizerTrn(nn.Module):
    """Training generator (public layout "model_g_training")."""

    @classmethod
    def from_hparams(cls, hp):
        return cls(*model_sizes(hp), hp)

    def __init__(self, spec_channels, segment_size, hp):
        super().__init__()
        v = hp.vits
        self.segment_size = int(segment_size)  # decoder window in frames
        self.emb_g = nn.Linear(v.spk_dim, v.gin_channels)
        self.enc_p = _content_encoder(hp)
        self.speaker_classifier = SpeakerClassifier(v.hidden_channels, v.spk_dim)
        self.enc_q = PosteriorEncoder(spec_channels, v.inter_channels, v.hidden_channels, 5, 1, 16, v.gin_channels)
        self.flow = _flow(hp)
        self.dec = Generator(hp)

    def forward(self, ppg, vec, pit, spec, spk, ppg_l, spec_l):
        """Returns audio [B, 1, segment*hop], ids_slice [B], spec_mask [B, 1, T],
        (z_f, z_r, z_p, m_p, logs_p, z_q, m_q, logs_q, logdet_f, logdet_r), spk_preds [B, spk].
        z_f/logdet_f: posterior pushed through the flow (compare with the prior m_p, logs_p);
        z_r/logdet_r: prior sample pulled back through the inverse flow (compare with m_q, logs_q)."""
        ppg = ppg + torch.randn_like(ppg) * TRAIN_PPG_NOISE
        vec = vec + torch.randn_like(vec) * TRAIN_VEC_NOISE
        with float32_region(ppg):  # under autocast only the decoder (most of the work) runs in half
            g = self.emb_g(F.normalize(spk)).unsqueeze(-1)  # [B, gin, 1]
            z_p, m_p, logs_p, _, x = self.enc_p(ppg, ppg_l, vec, f0_to_coarse(pit))
            z_q, m_q, logs_q, spec_mask = self.enc_q(spec, spec_l, g=g)

        z_slice, pit_slice, ids_slice = random_slice_with_pitch(z_q, pit, spec_l, self.segment_size)
        audio = self.dec(spk, z_slice, pit_slice)

        with float32_region(ppg):
            z_f, logdet_f = self.flow(z_q, spec_mask, g=spk)
            z_r, logdet_r = self.flow(z_p, spec_mask, g=spk, reverse=True)
        spk_preds = self.speaker_classifier(x)
        return audio, ids_slice, spec_mask, (z_f, z_r, z_p, m_p, logs_p, z_q, m_q, logs_q, logdet_f, logdet_r), spk_preds

    def infer(self, ppg, vec, pit, spk, ppg_l, seed=None):
        """Whole-utterance synthesis from features (validation): -> [B, 1, T * hop]."""
        with seeded(seed, ppg.device):
            ppg = ppg + torch.randn_like(ppg) * INFER_PPG_NOISE
            z_p, _, _, mask, _ = self.enc_p(ppg, ppg_l, vec, f0_to_coarse(pit))
            z, _ = self.flow(z_p, mask, g=spk, reverse=True)
            return self.dec(spk, z * mask, pit, perturb=False)


class SynthesizerInfer(nn.Module):
    """Conversion generator (public layout "model_g_exported"): enc_p, flow, dec."""

    @classmethod
    def from_hparams(cls, hp):
        return cls(*model_sizes(hp), hp)

    def __init__(self, spec_channels, segment_size, hp):
        super().__init__()  # segment_size: unused by conversion, kept for one signature with SynthesizerTrn
        self.enc_p = _content_encoder(hp)
        self.flow = _flow(hp)
        self.dec = Generator(hp)

    @property
    def folded(self):
        return not any(has_weight_norm(m) for m in self.modules())

    def load_exported(self, state_dict, path="<state dict>"):
        """Load an exported ({'model_g'} value) or a training generator state dict: training-only keys
        are ignored, modern weight-norm keys renamed (and folded when this model's weight norm is: see
        vits_decoder.fast); anything else must match exactly or CheckpointError names the difference."""
        if not isinstance(state_dict, dict):
            raise CheckpointError(f"generator weights in {path} are a {type(state_dict).__name__}, not a state dict.")
        state = {k: v for k, v in to_legacy_weight_norm(state_dict).items()
                 if not k.startswith(TRAINING_ONLY_PREFIXES)}
        if self.folded:
            state = fold_weight_norm_state(state)
        load_state_dict_checked(self, state, path, what="so-vits-svc-5.0 generator")
        return self

    @torch.inference_mode()
    def pitch2source(self, f0, seed=None):
        """f0 [B, T] Hz -> NSF source [B, 1, T * hop]; `seed` makes its random phases/noise repeatable."""
        with seeded(seed, f0.device):
            return self.dec.pitch2source(f0)

    @torch.inference_mode()
    def inference(self, ppg, vec, pit, spk, ppg_l, source, seed=None, ppg_noise=0.0, noise_scale=1.0):
        """ppg [B, T, ppg], vec [B, T, vec], pit [B, T] Hz, spk [B, spk] (or [B, T, spk]: one
        vector per frame), ppg_l [B], source [B, 1, T * hop] -> audio [B, 1, T * hop]. The prior is sampled (noise_scale); `seed`
        fixes that sample; ppg_noise adds N(0, ppg_noise) to the PPG first (0 = off)."""
        with seeded(seed, ppg.device):
            if ppg_noise:
                ppg = ppg + torch.randn_like(ppg) * ppg_noise
            z_p, _, _, mask, _ = self.enc_p(ppg, ppg_l, vec, f0_to_coarse(pit), noise_scale=noise_scale)
            z, _ = self.flow(z_p, mask, g=spk, reverse=True)
            return self.dec.inference(spk, z * mask, source)
