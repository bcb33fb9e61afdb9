"""Using a trained model: export, conversion (chunked, crossfaded), post-VAD, model merge, timbre mix."""
