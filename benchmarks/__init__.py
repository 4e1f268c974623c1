"""fixntk's asv benchmark suite (see asv.conf.json at the repository root).

Threads are pinned here, before any benchmark module imports numpy, numba or fixntk:
every threading runtime gets FIXNTK_BENCH_THREADS threads (default 1), unless the
environment (or asv.conf.json's matrix) already sets its own variable.
"""

import os

from .problems import pin_threads

pin_threads(int(os.environ.get("FIXNTK_BENCH_THREADS", "1")))
