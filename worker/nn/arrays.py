"""The engine's array types.

Parameters, activations and gradients are float arrays of the network's one
precision: float32 to train, float64 to check gradients (METHODS.md section 3).
Training standardizes its inputs (numbers of any type) into float32. Labels are
whole class numbers 0..K-1.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

# The precision is chosen at run time (Network's dtype), so it stays open here.
FloatArray = npt.NDArray[np.floating[Any]]
FloatDtype = np.dtype[np.floating[Any]]
Float32Array = npt.NDArray[np.float32]
NumberArray = npt.NDArray[np.number[Any]]
LabelArray = npt.NDArray[np.int64]
