"""LSTM d-vector speaker encoder."""

import common  # noqa: F401  (first: it sets the OpenMP wait policy before torch loads)
