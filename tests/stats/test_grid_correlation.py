"""Input checks of the mesh correlation function (its values are tested against a brute-force
lag average in tests/infer/test_fisher.py)."""

import numpy as np
import pytest

from cosmojax.stats import grid_correlation_function


def test_complex_and_nan_fields_are_refused():
    field = np.random.default_rng(0).normal(size=(8, 8))
    edges = np.array([0.0, 2.0, 4.0])
    r, xi = grid_correlation_function(field, 16.0, redges=edges)
    assert np.isclose(float(xi[0]), np.mean(field**2))  # the first bin holds only the zero lag
    with pytest.raises(TypeError, match="field must be real"):
        grid_correlation_function(field + 1j * field, 16.0, redges=edges)
    bad = field.copy()
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match="field contains NaN"):
        grid_correlation_function(bad, 16.0, redges=edges)
