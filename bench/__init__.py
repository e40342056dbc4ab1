"""Benchmarks for escalate: the bug corpus (`bench.corpus`) and the harness (`python -m bench`)."""
