"""uxtop: htop for user experience."""

import os as _os

# uxtop runs its own threads (ingest | analysis | UI) on small arrays; numpy's OpenBLAS would
# start a pool of its own that spins on the same cores (seen as ~4 % of CPU in ingest
# profiles). Only a default: an explicit setting wins, and it must come before numpy loads.
_os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
