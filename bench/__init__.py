"""Benchmarks (run as scripts: python bench/bench_<name>.py --help); not collected by pytest."""
