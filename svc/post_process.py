"""svc_inference_post.py's one call: turn a converted file down where its reference is silent."""
import soundfile as sf

from common.audio import EXTRACT_RATE, load_audio, save_audio
from svc.soft_gate import soft_gate
from svc.vad import silence_unvoiced


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
