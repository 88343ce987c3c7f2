"""Which BLAS numpy runs, as a benchmark's header says it.

OpenBLAS picks its kernels by CPU (Haswell's AVX2, SkylakeX's AVX-512), and kernels
add up a matrix product in different orders: the same code and seed train to slightly
different weights on two machines, so figures that depend on every rounding (a
search's path) are comparable only under the same kernels.
"""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_info


def blas_description() -> str:
    """'numpy 2.4.6, BLAS openblas 0.3.31 (Haswell)': the library, version and kernels."""
    blas = [f"{i['internal_api']} {i['version']} ({i.get('architecture')})"
            for i in threadpool_info() if i["user_api"] == "blas"]
    return f"numpy {np.__version__}, BLAS {', '.join(blas) or 'unknown'}"
