"""Using a trained model: loading, export (incl. ONNX), conversion (chunked, crossfaded), feature
retrieval, post-VAD, model merge, timbre mix."""
import common  # noqa: F401  (first: it sets the OpenMP wait policy before torch loads)
