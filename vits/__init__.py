"""The SVC model (VITS) and its training."""

import common  # noqa: F401  (first: it sets the OpenMP wait policy before torch loads)
