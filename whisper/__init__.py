"""Whisper encoder (OpenAI checkpoint format) -> PPG."""

import common  # noqa: F401  (first: it sets the OpenMP wait policy before torch loads)
