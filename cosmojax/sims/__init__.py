"""Simulators: random fields, LPT and particle-mesh N-body, bias and tracers, CMB skies.

Every simulator takes a ``key`` (or white noise) first; sizes live in static
configurations (``SimConfig``, ``ReionisationConfig``), parameters are traced pytrees.
The particle forward model is assembled once, in ``forward.py``: ``simulate`` (and
``nbody``, which calls it), ``evolve``, ``initial_displacements``, ``lpt_density``, with
``prime(cosmo, config)`` holding the growth table and the linear power on the mesh.
``lightcone_map`` projects snapshots onto flat-sky or HEALPix maps of
the tracers of ``cosmojax.projected`` (Born convergence, projected galaxy density).
The modules ``cmb`` and ``reionisation`` are exported whole (``from cosmojax.sims import
cmb``): their names are specific to skies.
"""

from cosmojax.sims import cmb, reionisation
from cosmojax.sims.bias_expansion import (
    BiasParams,
    bias_expansion,
    eulerian_bias,
    lagrangian_bias,
    lagrangian_weights,
    tidal_squared,
)
from cosmojax.sims.config import SimConfig
from cosmojax.sims.fields import (
    gaussian_field,
    gaussian_field_from_noise,
    lognormal_field,
    lognormal_gaussian_power,
    lognormal_transform,
    noise_to_modes,
    paired_gaussian_fields,
    power_on_mesh,
    white_noise,
)
from cosmojax.sims.forward import evolve, initial_displacements, lpt_density, prime, simulate
from cosmojax.sims.lightcone import flat_sky_directions, flat_sky_shear, healpix_directions, lightcone_map
from cosmojax.sims.lpt import (
    Particles,
    lattice,
    linear_density,
    linear_modes,
    linear_power_on_mesh,
    lpt,
    mesh_power,
    lpt_from_potentials,
    lpt_potentials,
    positions,
)
from cosmojax.sims.nbody import (
    Snapshots,
    State,
    drift,
    force,
    force_band_mask,
    force_response,
    initial_state,
    integrate,
    kick,
    nbody,
    run_steps,
    step,
    step_factors,
)
from cosmojax.sims.nbody import density as particle_density
from cosmojax.sims.rsd import peculiar_velocity, redshift_space
from cosmojax.sims.tracers import count_field, counts_to_positions, fixed_number_tracers, poisson_counts, poisson_rate

__all__ = [
    # random fields
    "white_noise",
    "noise_to_modes",
    "power_on_mesh",
    "gaussian_field",
    "gaussian_field_from_noise",
    "paired_gaussian_fields",
    "lognormal_field",
    "lognormal_gaussian_power",
    "lognormal_transform",
    # the forward model (forward.py) and its pieces: LPT and particle mesh
    "SimConfig",
    "prime",
    "simulate",
    "evolve",
    "initial_displacements",
    "lpt_density",
    "mesh_power",
    "Particles",
    "lattice",
    "positions",
    "linear_modes",
    "linear_power_on_mesh",
    "linear_density",
    "lpt",
    "lpt_potentials",
    "lpt_from_potentials",
    "Snapshots",
    "nbody",
    "integrate",
    "State",
    "initial_state",
    "run_steps",
    "step_factors",
    "force",
    "force_band_mask",
    "force_response",
    "step",
    "kick",
    "drift",
    "particle_density",
    # observables
    "redshift_space",
    "peculiar_velocity",
    "BiasParams",
    "bias_expansion",
    "eulerian_bias",
    "lagrangian_bias",
    "lagrangian_weights",
    "tidal_squared",
    "poisson_rate",
    "poisson_counts",
    "counts_to_positions",
    "fixed_number_tracers",
    "count_field",
    # lightcone maps of projected tracers
    "lightcone_map",
    "flat_sky_directions",
    "healpix_directions",
    "flat_sky_shear",
    # skies
    "cmb",
    "reionisation",
]
