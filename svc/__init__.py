"""Using a trained model: loading, export (incl. ONNX), conversion (chunked, crossfaded), feature
retrieval, post-VAD, model merge, timbre mix."""
