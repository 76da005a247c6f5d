"""Benchmarks: standalone scripts printing ratios against an in-run baseline."""
