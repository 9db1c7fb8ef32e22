"""Second-order LPT alone against linear theory on large scales (the clustered
particle-mesh run: tests/sims/test_pm_large_scales.py)."""

import jax
import jax.numpy as jnp
import numpy as np

from cosmojax.cosmology import growth_factor, planck2018
from cosmojax.sims.config import SimConfig
from cosmojax.sims.fields import white_noise
from cosmojax.sims.lpt import linear_density, lpt
from cosmojax.sims.nbody import density
from cosmojax.stats import power_spectrum

COSMO = planck2018()
N = 64
BOX = 128.0
EDGES = np.array([0.5 * 2 * np.pi / BOX, 0.1001, 0.2, 0.3, 0.5 * np.pi * N / BOX])


def test_second_order_lpt_alone_grows_as_linear_theory_on_large_scales():
    # 2LPT at a = 0.25 (quasi-linear): its painted power at k <= 0.1 h/Mpc is D^2 P_lin to
    # 2% (mode-weighted); at a = 1 it is far below the N-body power on small scales
    config = SimConfig(mesh_shape=N, box_size=BOX, force_factor=2, a_init=0.02, steps=10)
    noise = white_noise(jax.random.key(0), config.mesh_shape)
    lin = power_spectrum(linear_density(noise, COSMO, config, 1.0, fixed_amplitude=True), BOX, kedges=EDGES)
    paint_config = config.replace(scheme="cic")

    def lpt_power(a):
        out = []
        for s in (1, -1):
            disp = lpt(s * noise, COSMO, config, a=a, order=2, fixed_amplitude=True).disp
            out.append(np.asarray(power_spectrum(density(disp, paint_config, shape=(2 * N,) * 3), BOX, kedges=EDGES,
                                                 compensate="cic").power))
        return np.mean(out, 0) / np.asarray(lin.power) / float(growth_factor(COSMO, a)) ** 2

    early = lpt_power(0.25)
    assert abs(early[0] - 1.0) < 0.02
    late = lpt_power(1.0)
    assert late[3] < 1.5  # halofit asks 2.5-4 here: 2LPT alone misses collapsed structure
