"""One file in, one pitch file out: what `python pitch/inference.py` does."""
from common.atomic import save_npy
from common.audio import load_audio
from pitch.csv_io import write_f0_csv
from pitch.extractor import PitchExtractor


def extract_to_file(wav_path, out_path, mode="conversion", plot_path=None, **extractor_options):
    """Extract F0 of `wav_path`; write `out_path` (.npy -> numpy, else CSV) and optionally a PNG plot."""
    wav = load_audio(wav_path, 16000)
    f0 = PitchExtractor(**extractor_options).extract(wav, mode)
    if str(out_path).lower().endswith(".npy"):
        save_npy(out_path, f0)
    else:
        write_f0_csv(out_path, f0)
    if plot_path:
        from pitch.plot import plot_f0

        plot_f0(plot_path, f0, title=f"{wav_path} ({mode})")
    return f0
