"""Bad input to the mesh tools and the power-spectrum estimator: non-integer mesh sizes are
refused (never truncated) and complex arrays are refused (never cast to real)."""

import numpy as np
import pytest

from cosmojax.mesh import cell_size, paint, readout, rfftn_shape, window
from cosmojax.stats.power_spectrum import expected_power, power_spectrum

POS = np.random.default_rng(0).uniform(0, 10.0, (50, 3))


@pytest.mark.parametrize("call", [
    lambda s: paint(POS, s, 10.0),
    lambda s: cell_size(s, 10.0),
    lambda s: rfftn_shape(s),
    lambda s: window(s),
    lambda s: expected_power(lambda k: k**-1.0, s, 10.0),
], ids=["paint", "cell_size", "rfftn_shape", "window", "expected_power"])
@pytest.mark.parametrize("shape", [(8, 8, 8.5), (8.5, 8, 8), ("8", 8, 8), (True, 8, 8)])
def test_non_integer_mesh_shapes_are_refused(call, shape):
    with pytest.raises(ValueError, match=r"mesh_shape\[\d\] must be an integer >= 2"):
        call(shape)


def test_whole_float_mesh_shape_gives_the_integer_result():
    np.testing.assert_allclose(paint(POS, (8.0, 8, 8), 10.0), paint(POS, (8, 8, 8), 10.0))
    assert rfftn_shape((8.0, 8, 8)) == (8, 8, 5)


def test_complex_inputs_are_refused():
    mesh = np.ones((8, 8, 8))
    with pytest.raises(TypeError, match="pos must be real"):
        paint(POS + 0j, (8, 8, 8), 10.0)
    with pytest.raises(TypeError, match="weights must be real"):
        paint(POS, (8, 8, 8), 10.0, weights=np.ones(50) + 0j)
    with pytest.raises(TypeError, match="mesh must be real"):
        readout(mesh + 0j, POS, 10.0)
    with pytest.raises(TypeError, match="field must be real"):
        power_spectrum(mesh + 1j, 10.0)
    with pytest.raises(TypeError, match="field2 must be real"):
        power_spectrum(mesh, 10.0, field2=mesh + 1j)
    with pytest.raises(TypeError, match="box_size must be real"):
        power_spectrum(mesh, 10.0 + 1j)


def test_power_multipoles_refuses_complex_line_of_sight_and_shot_noise():
    from cosmojax.stats.power_spectrum import power_multipoles

    mesh = np.random.default_rng(1).standard_normal((8, 8, 8))
    with pytest.raises(TypeError, match="los must be real"):
        power_multipoles(mesh, 10.0, los=np.array([0, 0, 1 + 1j]))
    with pytest.raises(TypeError, match="shot_noise must be real"):
        power_spectrum(mesh, 10.0, shot_noise=1j)
