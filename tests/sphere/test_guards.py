"""Bad inputs at the sphere entry points: non-integer sizes refused, complex maps refused."""

import numpy as np
import pytest

from cosmojax.sphere import almxfl, map2alm
from cosmojax.sphere.geometry import check_nside
from cosmojax.sims.cmb import synfast


@pytest.mark.parametrize("nside", [16.5, "16", True, 12, 0, 1j])
def test_check_nside_refuses_non_powers_of_two_and_non_numbers(nside):
    with pytest.raises(ValueError, match="nside must be a power of 2"):
        check_nside(nside)


def test_check_nside_accepts_whole_floats():
    assert check_nside(16.0) == 16 and check_nside(np.int64(8)) == 8


def test_map2alm_refuses_non_integer_sizes_and_complex_maps():
    m = np.random.default_rng(0).standard_normal(12 * 4**2)
    for kw, match in ((dict(lmax=5.5), "lmax must be an integer >= 0"), (dict(mmax=2.5, lmax=5), "mmax must be an integer"),
                      (dict(iter=1.5), "iter must be an integer >= 0")):
        with pytest.raises(ValueError, match=match):
            map2alm(m, **kw)
    with pytest.raises(TypeError, match="maps must be real"):
        map2alm(m + 1j)
    alm = map2alm(m, lmax=5)
    with pytest.raises(ValueError, match="mmax must be an integer >= 0"):
        almxfl(alm, np.ones(6), mmax=4.5)
    with pytest.raises(TypeError, match="fl must be real"):
        almxfl(alm, np.ones(6) + 1j)


def test_synfast_refuses_integer_seed_and_fractional_nside():
    cls = np.ones(12)
    with pytest.raises(TypeError, match=r"jax\.random\.key\(seed\)"):
        synfast(0, cls, 4)
    import jax

    with pytest.raises(ValueError, match="nside must be a power of 2"):
        synfast(jax.random.key(0), cls, 4.5)
