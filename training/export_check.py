"""The check every trained model passes before its file is kept: the exported file, read
back by newsstream's own loader and scored in pure Python, gives the probabilities
scikit-learn gives (same tokens, same vocabulary, same arithmetic)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

MAX_DRIFT = 1e-4


def check_export(expected: ArrayLike, got: ArrayLike) -> None:
    """Exit with an error when ``got`` (the exported model's probabilities) strays from
    ``expected`` (scikit-learn's) by more than ``MAX_DRIFT`` anywhere."""
    expected, got = np.asarray(expected, dtype=float), np.asarray(got, dtype=float)
    drift = float(np.max(np.abs(got - expected)))
    print(f"exported model vs scikit-learn on {len(expected)} texts: max |difference| {drift:.2e}")
    if drift > MAX_DRIFT:
        raise SystemExit("the exported model does not reproduce the trained one")
