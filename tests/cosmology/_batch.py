"""A batch of cosmologies (flat LambdaCDM, w0wa, open) stacked into one pytree for vmap tests."""

import jax
import jax.numpy as jnp

from cosmojax.cosmology import Cosmology, planck2018

MEMBERS = [
    planck2018(),
    Cosmology(Omega_c=0.26, Omega_b=0.05, h=0.7, n_s=0.96, sigma8=0.8, w0=-0.9, wa=0.3),
    Cosmology(Omega_c=0.25, Omega_b=0.05, h=0.7, n_s=0.96, sigma8=0.8, Omega_k=0.05),
]


def cosmology_batch():
    """The three cosmologies as one Cosmology of (3,) arrays."""
    return jax.tree_util.tree_map(lambda *x: jnp.asarray(x, dtype=float), *MEMBERS)
