"""A soft noise gate for converted audio (svc_inference_post.py), keyed by the reference (the source
singing): per 10 ms frame, unity gain within `range_db` of the loud frames, below that `ratio` dB down
per dB (at most `depth_db`), so pauses drop away without a dead-silent hole. The gain opens
`lookahead_ms` before an onset (over `attack_ms`), closes over `release_ms`, and glides sample by
sample, so no switch clicks."""
from dataclasses import dataclass

import numpy as np
import soundfile as sf

from common.audio import EXTRACT_RATE, load_audio, save_audio
from svc.vad import FRAME_RATE, frame_level_db, frame_signal, silence_unvoiced


@dataclass
class Gate:
    range_db: float = 50.0
    floor_db: float = -65.0
    ratio: float = 2.0
    depth_db: float = 40.0
    lookahead_ms: float = 10.0
    attack_ms: float = 20.0
    release_ms: float = 80.0


def gate_gain_db(ref, ref_sr, **options):
    """Gate gain in dB (<= 0) per 10 ms frame of the reference; `options`: the fields of Gate."""
    o = Gate(**options)
    level = frame_level_db(frame_signal(ref, ref_sr))
    threshold = max(np.percentile(level, 95) - o.range_db, o.floor_db)
    gain = np.clip(o.ratio * (level - threshold), -o.depth_db, 0.0)
    ahead = max(0, int(round(o.lookahead_ms * FRAME_RATE / 1000.0)))
    if ahead:  # open early: each frame takes the most open gain of the frames just after it
        padded = np.pad(gain, (0, ahead), mode="edge")
        gain = np.max([padded[i:i + len(gain)] for i in range(ahead + 1)], axis=0)
    rise = o.depth_db * 1000.0 / (o.attack_ms * FRAME_RATE)    # dB a frame may open by
    for i in range(len(gain) - 2, -1, -1):                 # backwards: the fade-in ends at the onset
        gain[i] = max(gain[i], gain[i + 1] - rise)
    fall = o.depth_db * 1000.0 / (o.release_ms * FRAME_RATE)   # dB a frame may close by
    for i in range(1, len(gain)):
        gain[i] = max(gain[i], gain[i - 1] - fall)
    return gain


def soft_gate(ref, ref_sr, svc, svc_sr, **options):
    """`svc` turned down where the reference is silent (float32, len(svc))."""
    gain_db = gate_gain_db(ref, ref_sr, **options)
    centres = np.arange(len(gain_db)) * (svc_sr / FRAME_RATE)
    gain = 10.0 ** (np.interp(np.arange(len(svc)), centres, gain_db) / 20.0)  # linear in dB between frames
    return (np.asarray(svc, dtype=np.float64) * gain).astype(np.float32)


def post_process_files(ref_path, svc_path, out_path, hard=False, **options):
    """Turn `svc_path` down where the reference is silent and save it: the soft gate (options of
    gate_gain_db), or with hard=True zero where voice_mask finds no voice (options of silence_unvoiced)."""
    try:
        svc_sr = sf.info(svc_path).samplerate
    except Exception:
        svc_sr = 32000
    ref = load_audio(ref_path, EXTRACT_RATE)
    svc = load_audio(svc_path, svc_sr)
    gate = silence_unvoiced if hard else soft_gate
    save_audio(out_path, gate(ref, EXTRACT_RATE, svc, svc_sr, **options), svc_sr)
