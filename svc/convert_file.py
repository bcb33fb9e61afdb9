"""One file in, one file out: what svc_inference.py does, as a library call."""
from common.audio import load_audio, save_audio
from common.config import load_config
from svc.convert import EXTRACT_RATE, ExtractorSettings, SvcConverter
from svc.feature_files import load_ppg, load_speaker, load_vec


def read_pitch_csv(path):
    """F0 [N] Hz at 100 Hz from a pitch CSV (pitch/inference.py output, Excel edits allowed)."""
    from pitch.csv_io import read_f0_csv

    return read_f0_csv(path)


def open_converter(hp, model, spk, device="auto", extractors=None, no_noise=False, chunk_seconds=25.0,
                   overlap_seconds=1.0, progress=True, retrieval=None):
    """(SvcConverter, speaker vector): model, speaker file and retrieval indexes loaded once.

    `retrieval` is an svc.retrieval_setup.RetrievalSettings (None: no retrieval); the indexes are
    loaded before the model, so a missing index fails fast.
    """
    extractors = extractors or ExtractorSettings()
    if no_noise:
        extractors.whisper_noise = False
    speaker = load_speaker(spk, hp.vits.spk_dim)
    content_retrieval = None
    if retrieval is not None:
        from svc.retrieval_setup import load_retrieval

        content_retrieval = load_retrieval(retrieval, spk, hp)
    converter = SvcConverter(hp, model, device=device, extractors=extractors, chunk_seconds=chunk_seconds,
                             overlap_seconds=overlap_seconds, noise_scale=0.0 if no_noise else 1.0,
                             progress=progress, retrieval=content_retrieval)
    return converter, speaker


def convert_file(config, model, spk, wave, out=None, ppg=None, vec=None, pit=None, shift=0.0, device="auto",
                 extractors=None, seed=None, no_noise=False, chunk_seconds=25.0, overlap_seconds=1.0, progress=True,
                 retrieval=None):
    """Convert `wave` to the singer `spk` (.spk.npy) with `model`; writes `out` (16-bit WAV) when given.

    Features given as files (ppg/vec .npy at 50 Hz, pit CSV at 100 Hz) are used as they are;
    the others are extracted from the audio. `no_noise` turns off the Whisper dither and samples
    the prior at its mean; with `seed` the output is then repeatable. `retrieval`
    (svc.retrieval_setup.RetrievalSettings) pulls the content toward the singer's training
    frames. Returns the float32 waveform.
    """
    hp = load_config(config)
    wav16k = load_audio(wave, EXTRACT_RATE)
    v = hp.vits
    ppg_array = load_ppg(ppg, v.ppg_dim) if ppg else None
    vec_array = load_vec(vec, v.vec_dim) if vec else None
    f0 = read_pitch_csv(pit) if pit else None
    converter, speaker = open_converter(hp, model, spk, device, extractors, no_noise, chunk_seconds, overlap_seconds,
                                        progress, retrieval)
    names = {"spk": str(spk), "ppg": str(ppg) if ppg else None, "vec": str(vec) if vec else None,
             "f0": str(pit) if pit else None}
    wav = converter.convert(speaker, wav16k, ppg_array, vec_array, f0, shift=shift, seed=seed,
                            names={k: n for k, n in names.items() if n})
    if out:
        save_audio(out, wav, converter.rate)
    return wav
