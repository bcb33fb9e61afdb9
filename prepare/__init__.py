"""Preprocessing steps: raw dataset -> data_svc/ features -> files/train.txt, valid.txt.

Each step is a library function returning a `StepReport`; the CLIs in this folder and
`svc_preprocessing.py` are thin wrappers around them.
"""
import common  # noqa: F401  (first: it sets the OpenMP wait policy before torch loads)
