"""Every config key with its type, default and meaning: the reference for configs/base.yaml, whose
values are the defaults (the public keys' are so-vits-svc-5.0's, so its base.yaml loads unchanged).
Adding a key is one line, `name: type = default  # meaning` (lists: `= values(...)`); load_config
then type-checks it, refuses misspellings of it and fills in its default."""
from dataclasses import dataclass, field
from typing import List


def values(*items):
    """Default of a list-valued key."""
    return field(default_factory=lambda: list(items))


def unused(default):
    """Default of a public key that nothing reads (kept so the public base.yaml loads)."""
    return field(default=default, metadata={"unused": True})


@dataclass
class Train:
    model: str = unused("sovits")  # model family name of the public file
    seed: int = 1234  # random seed for torch / numpy / python at the start of training
    epochs: int = 10000  # upper bound on epochs; stop training with Ctrl-C (a checkpoint is saved)
    learning_rate: float = 5e-5  # AdamW learning rate of generator and discriminators
    betas: List[float] = values(0.8, 0.99)  # AdamW betas
    lr_decay: float = 0.999875  # exponential learning-rate decay applied once per epoch
    eps: float = 1e-9  # AdamW epsilon
    batch_size: int = 8  # clips per optimizer micro-batch (per GPU)
    accum_step: int = 2  # gradient accumulation: micro-batches summed before each optimizer step
    c_stft: float = 9.0  # weight of the multi-resolution STFT loss
    c_mel: float = 1.0  # weight of the mel-spectrogram L1 loss
    c_kl: float = 0.2  # weight of the forward KL (the reverse KL gets c_kl * 0.5)
    port: int = 8001  # TCP port of the DDP rendezvous of a single-node multi-GPU spawn (--master-port wins)
    pretrain: str = "./vits_pretrain/sovits5.0.pretrain.pth"  # start from this file when it exists ("" = never)
    grad_clip: float = 0.0  # clip each model's total gradient norm to this value (0 = off, as the public loop)
    # CPU training on vits_decoder.fast (compiled activation with its backward, banded attention): the
    # same function, other float32 rounding (gradients equal in float64; README "Training on a CPU")
    fast_path: bool = False
    nonfinite_limit: int = 3  # stop after this many optimizer steps in a row with NaN/inf loss or gradient (0 = never)
    # validations without a better score (while the training mel still falls) before "the voice is done" (0 = off)
    patience: int = 10
    amp: str = "none"  # mixed precision on CUDA: "none", "bf16" or "fp16" (fp16 with a grad scaler); --amp wins
    num_workers: int = 2  # DataLoader worker processes (0 = load in the main process)
    max_seconds: float = 4.0  # longer training clips are cropped at random to this many seconds
    min_seconds: float = 1.0  # shorter training clips are dropped


@dataclass
class Data:
    training_files: str = "files/train.txt"  # list written by prepare/preprocess_train.py
    validation_files: str = "files/valid.txt"  # held-out list written by prepare/preprocess_train.py
    segment_size: int = 8000  # decoder training window in samples at sampling_rate (a multiple of hop_length)
    max_wav_value: float = unused(32768.0)  # full scale of 16-bit PCM (audio is read as float in [-1, 1])
    sampling_rate: int = 32000  # output and training audio rate in Hz
    filter_length: int = 1024  # n_fft of the linear spectrogram read by the posterior encoder
    hop_length: int = 320  # hop in samples at sampling_rate (100 frames per second)
    win_length: int = 1024  # window length of the linear spectrogram
    mel_channels: int = 100  # mel bands of the mel-spectrogram loss
    mel_fmin: float = 50.0  # lowest mel frequency in Hz
    mel_fmax: float = 16000.0  # highest mel frequency in Hz


@dataclass
class Vits:
    ppg_dim: int = 1280  # width of the Whisper PPG (large-v2 encoder width)
    vec_dim: int = 256  # width of the HuBERT-Soft units
    spk_dim: int = 256  # width of the speaker d-vector
    gin_channels: int = 256  # width of the speaker conditioning inside the posterior encoder
    inter_channels: int = 192  # width of the latent z
    hidden_channels: int = 192  # width of the encoders' hidden layers
    filter_channels: int = 640  # width of the transformer feed-forward layers


@dataclass
class Gen:
    upsample_input: int = 192  # channels entering the decoder (= vits.inter_channels)
    upsample_rates: List[int] = values(5, 4, 4, 2, 2)  # one per stage; the product equals data.hop_length
    upsample_kernel_sizes: List[int] = values(15, 8, 8, 4, 4)  # transposed-convolution kernel per stage
    upsample_initial_channel: int = 320  # channels after conv_pre; halved at every upsampling stage
    resblock_kernel_sizes: List[int] = values(3, 7, 11)  # one AMP residual block per kernel size per stage
    resblock_dilation_sizes: List[List[int]] = values([1, 3, 5], [1, 3, 5], [1, 3, 5])  # dilations per block


@dataclass
class Mpd:
    periods: List[int] = values(2, 3, 5, 7, 11)  # periods of the multi-period discriminator
    channels: List[int] = values(64, 128, 256, 512, 1024)  # widths of its 2-D convolutions
    kernel_size: int = 5  # kernel height of its 2-D convolutions
    stride: int = 3  # stride of its 2-D convolutions
    use_spectral_norm: bool = False  # spectral norm instead of weight norm
    lReLU_slope: float = 0.2  # leaky ReLU slope


@dataclass
class Mrd:
    # (n_fft, hop, win) per resolution of the multi-resolution discriminator and the STFT loss; the
    # public file writes them as a string, "[(1024, 120, 600), ...]", which load_config parses
    resolutions: List[List[int]] = values([1024, 120, 600], [2048, 240, 1200], [4096, 480, 2400], [512, 50, 240])
    use_spectral_norm: bool = False  # spectral norm instead of weight norm
    lReLU_slope: float = 0.2  # leaky ReLU slope
    channels: int = 32  # width of its 2-D convolutions


@dataclass
class ScoreWeights:
    # validation score (lower is better) = sum of weight x figure (vits/valid_metrics.py); best.pt keeps the best
    mel: float = 1.0  # validation mel L1
    pitch_cents: float = 0.01  # pitch error in cents
    f0_corr: float = 1.0  # times (1 - F0 correlation)
    f0_rmse: float = 0.01  # F0 RMSE in Hz
    spk_sim: float = 2.0  # times (1 - speaker similarity)


@dataclass
class Log:
    info_interval: int = 100  # steps between loss lines in the log file and TensorBoard scalars
    eval_interval: int = 1  # epochs between validation runs (mel loss, images, audio, the two below)
    eval_pitch_method: str = "crepe"  # valid/pitch_cents, valid/voicing tracker (crepe, harvest, dio, pm, pyin; "" = off)
    eval_speaker_checkpoint: str = "speaker_pretrain/best_model.pth.tar"  # encoder of valid/spk_sim ("" = off)
    save_interval: int = 5  # epochs between checkpoints
    num_audio: int = 6  # validation clips written to TensorBoard
    pth_dir: str = "chkpt"  # checkpoints go to <pth_dir>/<name>/<name>_<epoch>.pt
    log_dir: str = "logs"  # TensorBoard and text logs go to <log_dir>/<name>/
    keep_ckpts: int = 0  # keep only the newest N checkpoints (0 = keep all)
    score_weights: ScoreWeights = field(default_factory=ScoreWeights)  # see ScoreWeights


@dataclass
class DistConfig:
    dist_backend: str = "nccl"  # DDP backend on CUDA (gloo is used on the CPU)
    dist_url: str = unused("tcp://localhost:54321")  # the rendezvous is --master-addr and train.port / --master-port
    world_size: int = unused(1)  # the process count is --num-gpus, or torchrun's WORLD_SIZE


@dataclass
class SvcConfig:
    train: Train = field(default_factory=Train)
    data: Data = field(default_factory=Data)
    vits: Vits = field(default_factory=Vits)
    gen: Gen = field(default_factory=Gen)
    mpd: Mpd = field(default_factory=Mpd)
    mrd: Mrd = field(default_factory=Mrd)
    log: Log = field(default_factory=Log)
    dist_config: DistConfig = field(default_factory=DistConfig)
