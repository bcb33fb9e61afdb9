"""PitchExtractor: so-vits-svc-5.0 style F0 for training (unvoiced = 0) and for conversion (smooth);
`extract_to_file`: what `python pitch/inference.py` does, one file in, one pitch file out."""
from dataclasses import dataclass, field

import numpy as np

from common.atomic import save_npy
from common.audio import EXTRACT_RATE
from common.extractor import load_wav16k
from common.device import pick_device
from pitch import smoothing
from pitch.classic import METHODS as CLASSIC_METHODS
from pitch.csv_io import write_f0_csv
from pitch.repair import repair_f0

HOP = 160  # samples at 16 kHz per output frame (10 ms)
FMIN, FMAX = 50.0, 1000.0
METHODS = ("crepe", "fcpe", "rmvpe") + tuple(CLASSIC_METHODS)
# The default tracker of preprocessing and conversion (train and convert with the same one). FCPE: on
# sung test signals (bench/bench_pitch_default.py) as accurate as CREPE full (median error 2.5 vs 4.8
# cents, no gross errors for either) at ~1/17 of its CPU time; CREPE full, what so-vits-svc-5.0 used,
# stays one flag away (--pitch-method crepe). With a backing, see bench/bench_pitch_robust.py.
DEFAULT_PITCH_METHOD = "fcpe"

# Per network: (mean filter width on f0, median filter width on the confidence) in training mode, and
# the mean filter width on the bridged conversion contour. CREPE and FCPE are smoothed as
# so-vits-svc-5.0 smooths CREPE; RMVPE's contour is used as the public code decodes it (RVC and
# so-vits-svc 4.1 do not smooth it; a 5-frame mean would flatten 6 Hz vibrato by ~14%).
TRAIN_FILTERS = {"crepe": (5, 7), "fcpe": (5, 7), "rmvpe": (1, 1)}
CONVERT_MEAN = {"crepe": 5, "fcpe": 5, "rmvpe": 1}
# Per network: hop of the conversion pass (CREPE runs at 20 ms there to halve its cost; FCPE
# computes every 10 ms frame anyway), and the confidence (median-filtered over 7 frames) below which
# a frame counts as unvoiced: 0 in training mode, bridged from its voiced neighbours in conversion
# mode, so breaths and silences glide between notes instead of wandering. CREPE's confidence is
# its periodicity; FCPE's and RMVPE's are their strongest bin (RMVPE: voiced strictly above 0.03,
# as the public decoder).
CONVERT_HOP = {"crepe": 320, "fcpe": 160, "rmvpe": 160}
_RMVPE_VOICED = float(np.nextafter(0.03, 1.0))
TRAIN_VOICED = {"crepe": 0.5, "fcpe": 0.05, "rmvpe": _RMVPE_VOICED}
CONVERT_VOICED = {"crepe": 0.3, "fcpe": 0.05, "rmvpe": _RMVPE_VOICED}
CONVERT_MEDIAN = 7
MODES = ("training", "conversion")


@dataclass
class PitchContour:
    f0: np.ndarray  # float32 [len // 160] Hz (training mode: 0 where unvoiced)
    voiced: np.ndarray  # bool [len // 160], the frames the tracker heard as voiced
    repairs: list = field(default_factory=list)  # pitch.repair.Repair spans changed by the repair pass


class PitchExtractor:
    def __init__(self, method="crepe", model="full", device="auto", weights=None, batch_size=None):
        if method not in METHODS:
            raise ValueError(f"pitch method {method!r} is unknown: use one of {', '.join(METHODS)}.")
        self.method = method
        self.tracker = None
        if method == "crepe":
            from pitch.crepe import CrepeTracker

            self.tracker = CrepeTracker(model, pick_device(device), weights, batch_size)
        elif method in ("fcpe", "rmvpe"):
            from pitch.fcpe import FcpeTracker
            from pitch.rmvpe import RmvpeTracker

            self.tracker = {"fcpe": FcpeTracker, "rmvpe": RmvpeTracker}[method](pick_device(device), weights)

    def contour(self, wav16k, mode="conversion", repair=False, progress=None):
        """PitchContour of 16 kHz audio in `mode`, optionally repaired (pitch.repair) before conversion
        mode bridges the unvoiced stretches; `progress(done, total)` as the network's batches finish."""
        if mode not in MODES:
            raise ValueError(f"pitch mode {mode!r} is unknown: use 'training' or 'conversion'.")
        wav = np.asarray(wav16k, dtype=np.float32)
        if wav.ndim != 1:
            raise ValueError(f"pitch extraction expects mono 16 kHz audio [samples], got shape {wav.shape}.")
        frames = len(wav) // HOP
        f0, voiced = self._track(wav, mode, progress)
        repairs = []
        if repair:
            f0, repairs = repair_f0(f0, HOP / EXTRACT_RATE)
        if mode == "conversion":
            if not np.any(voiced):  # nothing voiced at all: a neutral constant rather than noise or zeros
                f0 = np.full(len(f0), FMIN * 4)
            else:
                f0 = smoothing.interpolate_gaps(f0, voiced)
                if self.tracker is not None:
                    f0 = smoothing.mean_filter(f0, CONVERT_MEAN[self.method])
        return PitchContour(smoothing.fit_length(f0, frames).astype(np.float32),
                            smoothing.fit_length(voiced, frames).astype(bool), repairs)

    def _track(self, wav, mode, progress=None):
        """(f0 Hz with 0 where unvoiced, voiced mask), 10 ms frames, before any gap is bridged."""
        if self.tracker is None:
            f0 = np.asarray(CLASSIC_METHODS[self.method](wav, FMIN, FMAX), dtype=np.float64)
            return f0, f0 > 0
        training = mode == "training"
        hop = HOP if training else CONVERT_HOP[self.method]
        f0, periodicity = self.tracker.track(wav, hop, FMIN, FMAX, progress)
        mean, median = TRAIN_FILTERS[self.method] if training else (1, CONVERT_MEDIAN)
        threshold = (TRAIN_VOICED if training else CONVERT_VOICED)[self.method]
        f0 = smoothing.mean_filter(f0, mean)
        voiced = smoothing.median_filter(periodicity, median) >= threshold
        f0, voiced = np.repeat(f0, hop // HOP), np.repeat(voiced, hop // HOP)  # back to 10 ms frames
        return np.where(voiced, f0, 0.0), voiced

    def training(self, wav16k):
        """float32 [len // 160] Hz, 0 on unvoiced frames (the .pit.npy training target)."""
        return self.contour(wav16k, "training").f0

    def conversion(self, wav16k):
        """float32 [len // 160] Hz with no zeros: unvoiced stretches are bridged smoothly."""
        return self.contour(wav16k, "conversion").f0

    def extract(self, wav16k, mode="training"):
        return self.contour(wav16k, mode).f0


def extract_to_file(wav_path, out_path, mode="conversion", plot_path=None, repair=None, **extractor_options):
    """PitchContour of `wav_path`, written to `out_path` (.npy, else CSV) and optionally drawn to a PNG
    with the repaired spans shaded. `repair` None: on in conversion mode, off in training mode."""
    wav = load_wav16k(wav_path)
    repair = (mode == "conversion") if repair is None else repair
    contour = PitchExtractor(**extractor_options).contour(wav, mode, repair=repair)
    if str(out_path).lower().endswith(".npy"):
        save_npy(out_path, contour.f0)
    else:
        write_f0_csv(out_path, contour.f0)
    if plot_path:
        from pitch.plot import plot_f0

        plot_f0(plot_path, contour.f0, title=f"{wav_path} ({mode})", repairs=contour.repairs)
    return contour
