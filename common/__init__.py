"""Plumbing shared by every stage: audio I/O, checkpoints, atomic files, dataset walking."""
