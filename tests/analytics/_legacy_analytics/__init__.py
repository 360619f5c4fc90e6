"""Frozen copy of the analytics ingest path before the numba kernels (commit 1274c3c): the
plain-Python reference that ``test_kernels_equal_legacy.py`` compares the fast path against."""
