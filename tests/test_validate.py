"""Argument checks at the API boundary."""

import jax
import numpy as np
import pytest

from cosmojax._validate import check_int, check_positive, check_symmetric_positive_definite


def test_check_int_accepts_whole_numbers_and_names_the_argument():
    assert check_int("steps", 3) == 3
    assert check_int("steps", np.int64(4)) == 4
    assert check_int("steps", 5.0) == 5
    assert check_int("lmax", 0, 0) == 0
    assert check_int("chunk_size", None, allow_none=True) is None
    for bad in (0, -2, 2.5, "3", True, None):
        with pytest.raises(ValueError, match="steps must be an integer >= 1"):
            check_int("steps", bad)
    with pytest.raises(ValueError, match="n_s must be an integer >= 2"):
        check_int("n_s", 1, 2)
    with pytest.raises(ValueError, match="or None"):
        check_int("chunk_size", 0, allow_none=True)


def test_check_positive_skips_tracers():
    with pytest.raises(ValueError, match="lam must be > 0"):
        check_positive("lam", -1.0)
    check_positive("lam", 0.0, strict=False)
    jax.jit(lambda x: check_positive("x", x) or x)(-1.0)  # traced: unknown value, not checked


def test_symmetric_positive_definite_check():
    check_symmetric_positive_definite("m", np.array([[2.0, 0.5], [0.5, 1.0]]))
    for bad, match in ((np.array([[1.0, 0.5], [0.0, 1.0]]), "m must be symmetric positive definite"),
                       (np.array([[1.0, 2.0], [2.0, 1.0]]), "m must be symmetric positive definite"),
                       (np.array([[1.0, np.nan], [np.nan, 1.0]]), "m contains NaN")):
        with pytest.raises(ValueError, match=match):
            check_symmetric_positive_definite("m", bad)
    # skipped on tracers, so it can sit inside jit
    assert float(jax.jit(lambda m: (check_symmetric_positive_definite("m", m), m.sum())[1])(-np.eye(2))) == -2.0
