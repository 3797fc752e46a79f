"""Benchmarks: load generators and side-by-side comparisons, each reported as a ratio
against a baseline measured in the same run (see bench/README.md)."""
