"""Benchmarks (run as scripts: python bench/bench_<name>.py --help); not collected by pytest."""
import common  # noqa: F401,E402  (sets the OpenMP wait policy before torch loads)
