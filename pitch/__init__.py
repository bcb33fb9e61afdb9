"""Pitch (F0) trackers: CREPE, FCPE, classic methods; F0 CSV; repair."""

import common  # noqa: F401  (first: it sets the OpenMP wait policy before torch loads)
