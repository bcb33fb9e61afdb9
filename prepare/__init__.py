"""Preprocessing steps: raw dataset -> data_svc/ features -> files/train.txt, valid.txt; each a library
function returning a `StepReport`, behind the thin CLIs in this folder and `svc_preprocessing.py`."""
import common  # noqa: F401  (first: it sets the OpenMP wait policy before torch loads)
