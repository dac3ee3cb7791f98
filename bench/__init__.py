"""Benchmarks: each prints its figures. Run all with `make bench` (python -m bench)."""
