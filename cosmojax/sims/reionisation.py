"""Large-scale CMB E-mode polarisation as a function of the optical depth tau.

The low-l EE spectrum is read from a table of Boltzmann spectra shipped with the package
(``cosmojax/data/ee_tau_table.npz``, made by ``scripts/make_ee_tau_table.py`` with CAMB:
Planck 2018 cosmology, A_s e^{-2 tau} fixed, tanh reionisation, tau in [0.02, 0.12]) and
interpolated in tau by cubic Hermite splines of ln C_l, so it is smooth and differentiable.
The reionisation bump scales roughly as :math:`C_\\ell^{EE} \\propto \\tau^2` at l < 10
(Zaldarriaga 1997, PRD 55, 1822).

``simulate_qu(key, tau, config)`` draws E-mode skies from this spectrum, smooths them with
a Gaussian beam, adds anisotropic white noise and applies a latitude mask: a differentiable
simulator of noisy low-resolution Q/U maps.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.resources
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from cosmojax._interp import hermite_uniform
from cosmojax._validate import check_finite, check_int, check_key, check_real, is_concrete, nan_unless
from cosmojax.sims.cmb import latitude_mask, noise_spectrum, toy_hit_map, unit_alm, white_noise
from cosmojax.sphere.geometry import check_nside
from cosmojax.sphere.spectra import almxfl, gaussian_beam
from cosmojax.sphere.transforms import alm2map_spin


class EETauTable(NamedTuple):
    """Tabulated EE spectra on a uniform tau grid (numpy).

    tau : (ntau,) optical depths, uniform spacing
    cl_ee : (ntau, L) C_l^EE in muK^2, l = 0..L-1
    dlog_cl_ee_dtau : (ntau, L) d ln C_l^EE / d tau (cubic-spline slopes)
    cl_bb : (ntau, L) lensed C_l^BB in muK^2
    """

    tau: np.ndarray
    cl_ee: np.ndarray
    dlog_cl_ee_dtau: np.ndarray
    cl_bb: np.ndarray

    @property
    def lmax(self) -> int:
        return self.cl_ee.shape[1] - 1


@functools.lru_cache(maxsize=1)
def load_ee_tau_table() -> EETauTable:
    """Load the packaged table ``cosmojax/data/ee_tau_table.npz``."""
    path = importlib.resources.files("cosmojax").joinpath("data/ee_tau_table.npz")
    with path.open("rb") as fh, np.load(fh) as data:
        return EETauTable(
            tau=np.asarray(data["tau"]),
            cl_ee=np.asarray(data["cl_ee"]),
            dlog_cl_ee_dtau=np.asarray(data["dlog_cl_ee_dtau"]),
            cl_bb=np.asarray(data["cl_bb"]),
        )


def tau_range() -> tuple[float, float]:
    """The (min, max) optical depth covered by the table."""
    table = load_ee_tau_table()
    return float(table.tau[0]), float(table.tau[-1])


def cl_ee_tau(tau, lmax: int):
    """C_l^EE(tau) for l = 0..lmax from the packaged CAMB table.

    Parameters
    ----------
    tau : scalar or array, optical depth in [0.02, 0.12] (outside the range: a ValueError
        for concrete values; under jit/vmap/grad, NaN spectra and gradients for those
        entries, never a value from the edge of the table)
    lmax : int, <= the table's lmax (128)

    Returns
    -------
    (..., lmax + 1) array in muK^2 (shape of ``tau`` plus one axis); zero for l < 2.
    jit, vmap and grad safe (in ``tau``).
    """
    table = load_ee_tau_table()
    lmax = check_int("lmax", lmax, 0)
    if not lmax <= table.lmax:
        raise ValueError(f"lmax must be between 0 and {table.lmax} (the table's range); got {lmax}.")
    lo, hi = tau_range()
    check_real("tau", tau)
    if is_concrete(tau):
        check_finite("tau", tau)
        values = np.asarray(tau)
        if np.any((values < lo) | (values > hi)):
            raise ValueError(f"tau must lie in the table range [{lo}, {hi}]; got {values}.")
    tau = jnp.asarray(tau, dtype=jnp.result_type(float))
    if not is_concrete(tau):
        tau = nan_unless((tau >= lo) & (tau <= hi), tau)
    return _cl_ee_interp(tau, lmax)


@functools.partial(jax.jit, static_argnums=1)
def _cl_ee_interp(tau, lmax):
    table = load_ee_tau_table()
    ell = slice(2, lmax + 1)
    log_cl = jnp.asarray(np.log(table.cl_ee[:, ell]))
    slope = jnp.asarray(table.dlog_cl_ee_dtau[:, ell])
    dtau = float(table.tau[1] - table.tau[0])
    # one cubic Hermite interpolation in tau per multipole (columns of the table)
    interp = jax.vmap(
        lambda v, s: hermite_uniform(tau, float(table.tau[0]), dtau, v, s), in_axes=(1, 1), out_axes=-1
    )
    cl = jnp.exp(interp(log_cl, slope))
    zeros = jnp.zeros(tau.shape + (min(2, lmax + 1),), cl.dtype)
    return jnp.concatenate([zeros, cl], axis=-1)[..., : lmax + 1]


@dataclasses.dataclass(frozen=True)
class ReionisationConfig:
    """Static settings of the low-l polarisation simulator (hashable).

    nside : int, map resolution (8 or 16 is typical)
    lmax : int or None, largest multipole simulated (default 3 nside - 1)
    fwhm_deg : float, Gaussian beam FWHM in degrees applied to the signal
    noise_depth : float, polarisation noise in muK arcmin (sky average)
    hit_contrast : float, anisotropy of the toy hit map 1 + c cos^2(theta) (0: uniform)
    mask_cut_deg : float, half-width in degrees of the masked band about the equator (0: full sky)
    mask_apodization_deg : float, cosine taper width of the mask edge in degrees
    """

    nside: int = 8
    lmax: int | None = None
    fwhm_deg: float = 10.0
    noise_depth: float = 20.0
    hit_contrast: float = 0.0
    mask_cut_deg: float = 0.0
    mask_apodization_deg: float = 0.0

    def __post_init__(self):
        check_nside(self.nside)
        table_lmax = load_ee_tau_table().lmax
        if self.lmax is not None and not 2 <= self.lmax <= min(3 * self.nside - 1, table_lmax):
            raise ValueError(
                f"lmax must be between 2 and min(3 nside - 1, {table_lmax}) = {min(3 * self.nside - 1, table_lmax)}; "
                f"got {self.lmax}."
            )
        if self.fwhm_deg < 0 or self.noise_depth < 0 or self.hit_contrast < 0:
            raise ValueError("fwhm_deg, noise_depth and hit_contrast must be >= 0.")

    @property
    def ell_max(self) -> int:
        return min(3 * self.nside - 1, load_ee_tau_table().lmax) if self.lmax is None else self.lmax

    @property
    def npix(self) -> int:
        return 12 * self.nside * self.nside


def hits(config: ReionisationConfig) -> np.ndarray:
    """The hit map of ``config``, (npix,) numpy array normalised to mean 1 (RING)."""
    return toy_hit_map(config.nside, config.hit_contrast)


def mask(config: ReionisationConfig) -> np.ndarray:
    """The mask of ``config``, (npix,) numpy array in [0, 1] (RING)."""
    return latitude_mask(config.nside, config.mask_cut_deg, config.mask_apodization_deg)


def signal_spectrum(tau, config: ReionisationConfig):
    """Beam-smoothed C_l^EE(tau) of the simulator, (..., lmax + 1) muK^2. jit/vmap/grad safe in tau."""
    beam = gaussian_beam(np.radians(config.fwhm_deg), config.ell_max, pol=True)[1]
    return cl_ee_tau(tau, config.ell_max) * beam**2


def noise_level(config: ReionisationConfig):
    """Sky-averaged noise spectrum N_l of Q/U (E and B), (lmax + 1,) muK^2."""
    return noise_spectrum(config.noise_depth, config.ell_max)


def simulate_qu(key, tau, config: ReionisationConfig = ReionisationConfig()):
    """Noisy low-resolution Q/U maps of E-mode polarisation for an optical depth ``tau``.

    Signal: E alms drawn from ``cl_ee_tau(tau)`` smoothed by the beam (B = 0); noise:
    anisotropic white noise from the hit map at ``config.noise_depth``; then the mask
    multiplies both.

    Parameters
    ----------
    key : PRNG key
    tau : scalar, optical depth in [0.02, 0.12]
    config : ReionisationConfig (static)

    Returns
    -------
    (2, npix) array (Q, U) in muK, RING ordering. jit and vmap safe (over keys and tau);
    differentiable in ``tau`` for a fixed key (the draw is reparameterised). An integer seed
    for ``key`` raises ``TypeError``; a concrete ``tau`` outside the table a ``ValueError``;
    under jit/vmap/grad such a ``tau`` gives NaN maps (see ``cl_ee_tau``).
    """
    check_key("key", key)
    if np.ndim(tau) != 0:
        raise ValueError(f"tau must be a scalar; got shape {np.shape(tau)} (vmap over tau for many).")
    signal_key, noise_key = jax.random.split(key)
    lmax = config.ell_max
    amp = jnp.sqrt(signal_spectrum(tau, config))
    e = almxfl(unit_alm(signal_key, lmax), amp)
    qu = alm2map_spin(jnp.stack([e, jnp.zeros_like(e)]), config.nside, lmax=lmax)
    if config.noise_depth > 0:
        qu = qu + white_noise(noise_key, hits(config), jnp.full((2,), config.noise_depth, qu.dtype))
    if config.mask_cut_deg > 0:
        qu = qu * jnp.asarray(mask(config), qu.dtype)
    return qu
