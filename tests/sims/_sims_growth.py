"""Shared helper of the simulation tests: large-scale power of particle displacements."""

import jax.numpy as jnp
import numpy as np

from cosmojax.mesh import gradient_kernel
from cosmojax.stats import power_spectrum


def displacement_density(disp, config):
    """-div Psi on the particle lattice: the density a displacement field implies at
    linear order, free of mass-assignment windows and aliasing."""
    n = config.n
    psi_k = jnp.fft.rfftn(disp.reshape(n, n, n, 3), axes=(0, 1, 2))
    grad = gradient_kernel(config.mesh_shape, config.box_size)
    div = sum(g * psi_k[..., i] for i, g in enumerate(grad))
    return jnp.fft.irfftn(-div, s=config.mesh_shape)


def large_scale_edges(config, n_modes=4):
    """Bins of width k_f centred on k_f, 2 k_f, ... below ``n_modes`` k_f."""
    kf = 2 * np.pi / config.box_size
    return kf * (np.arange(n_modes) + 0.5)


def power_ratio(disp, reference, config):
    """P(-div disp) / P(reference) in the bins below 4 k_f."""
    edges = large_scale_edges(config)
    p = power_spectrum(displacement_density(disp, config), config.box_size, kedges=edges).power
    p_ref = power_spectrum(reference, config.box_size, kedges=edges).power
    return np.asarray(p / p_ref)
