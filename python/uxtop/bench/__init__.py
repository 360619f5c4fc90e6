"""Throughput measurements shared by ``uxtop bench`` and ``benchmarks/`` (pytest-benchmark)."""
