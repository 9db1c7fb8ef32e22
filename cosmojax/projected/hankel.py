"""Real-space angular correlations from angular spectra: FFTLog Hankel transforms.

In the flat-sky limit (Kilbinger et al. 2017, eqs. 9-11; the convention of CCL's
``correlation`` and of TreeCorr measurements),

.. math::

    \\xi(\\theta) = \\int_0^\\infty \\frac{\\ell\\, d\\ell}{2\\pi}\\, C_\\ell\\, J_\\nu(\\ell\\theta),

with nu = 0 for xi_plus (shear-shear) and w(theta) (clustering), nu = 4 for xi_minus and
nu = 2 for gamma_t (galaxy-shear). The integral is a Mellin convolution evaluated by
FFTLog (Talman 1978; Hamilton 2000): ell^2 C_ell is sampled on a log-spaced grid, biased
by ell^-q, Fourier transformed, multiplied by the Mellin transform of J_nu,

.. math:: U_\\nu(z) = \\int_0^\\infty x^{z-1} J_\\nu(x)\\, dx
          = 2^{z-1} \\frac{\\Gamma((\\nu + z)/2)}{\\Gamma(1 + (\\nu - z)/2)},

and transformed back, giving xi on the reciprocal grid theta_j = 1 / ell_{N-1-j}
(radians). The kernel depends only on the grid, so it is computed once with NumPy
(complex log-gamma, Lanczos) and the transform itself is two FFTs: jit, vmap and grad
safe in the spectrum. The spectrum is read from the given multipoles by cubic
interpolation in ln ell of ln |C_ell| where it does not change sign, and extended as a
power law beyond them (over ``PAD_DECADES`` decades each side, which keeps the periodic
FFT's ringing out of the returned range).

``correlation`` returns xi at any angles within the valid range, and averages over
annular bins when given bin edges (the mean of xi weighted by theta d theta, the
estimator's own weighting for a uniform survey).
"""

from __future__ import annotations

import numpy as np
import jax.numpy as jnp

from cosmojax._validate import check_edges, check_int, is_concrete

__all__ = ["hankel_transform", "correlation", "ORDERS", "PAD_DECADES", "valid_theta_range"]

#: Bessel order of each statistic.
ORDERS = {"xi_plus": 0, "xi_minus": 4, "gamma_t": 2, "w_theta": 0}
#: Decades of power-law extension added below and above the given multipoles.
PAD_DECADES = 2.0
#: Default bias q of ell^2 C_ell for each Bessel order (inside the Mellin strip -nu < q < 3/2).
_BIAS = {0: 1.0, 2: 1.0, 4: 1.0}


def _loggamma(z):
    """Complex log-gamma by the Lanczos approximation (g = 7, 9 terms; |error| < 1e-13),
    with the reflection formula for Re z < 1/2."""
    coefficients = np.array([
        0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
        -176.61502916214059, 12.507343278686905, -0.13857109526572012,
        9.9843695780195716e-6, 1.5056327351493116e-7,
    ])
    z = np.asarray(z, dtype=complex)
    reflect = z.real < 0.5
    w = np.where(reflect, 1.0 - z, z) - 1.0
    x = coefficients[0] + sum(c / (w + i) for i, c in enumerate(coefficients[1:], start=1))
    t = w + 7.5
    lg = 0.5 * np.log(2 * np.pi) + (w + 0.5) * np.log(t) - t + np.log(x)
    return np.where(reflect, np.log(np.pi) - _log_sin_pi(z) - lg, lg)


def _log_sin_pi(z):
    """log sin(pi z) without overflow at large |Im z| (any branch: only exp of it is used)."""
    lower = z.imag < 0
    upper = np.where(lower, np.conj(z), z)  # Im >= 0: sin(pi z) = e^{-i pi z} (e^{2 i pi z} - 1) / 2i
    value = -1j * np.pi * upper + np.log((np.exp(2j * np.pi * upper) - 1.0) / 2j)
    return np.where(lower, np.conj(value), value)


def _kernel(nu: int, q: float, n: int, dlnl: float, lnl0: float, lntheta0: float) -> np.ndarray:
    """The (n // 2 + 1,) complex FFTLog multipliers U(q + i eta) (ell_0 theta_0)^(-i eta)."""
    eta = 2 * np.pi * np.arange(n // 2 + 1) / (n * dlnl)
    z = q + 1j * eta
    log_u = (z - 1.0) * np.log(2.0) + _loggamma((nu + z) / 2.0) - _loggamma(1.0 + (nu - z) / 2.0)
    kernel = np.exp(log_u - 1j * eta * (lnl0 + lntheta0))
    if n % 2 == 0:
        kernel[-1] = kernel[-1].real  # the Nyquist term of a real signal is real
    return kernel


def hankel_transform(ell_grid_size: int, lnl_range, nu: int, spectrum, q: float | None = None):
    """xi(theta) = int ell d ell / (2 pi) C(ell) J_nu(ell theta) by FFTLog on a fixed grid.

    Parameters
    ----------
    ell_grid_size : static, number N of log-spaced multipoles
    lnl_range : (ln ell_min, ln ell_max) of the grid, static floats
    nu : static Bessel order (0, 2, 4, ...)
    spectrum : (..., N) C(ell) on the grid ``exp(linspace(*lnl_range, N))``
    q : static bias of ell^2 C(ell) (default 0.5; inside -nu < q < 3/2)

    Returns
    -------
    (theta (N,) radians, xi (..., N)): theta_j = 1 / ell_{N-1-j}, increasing. jit, vmap
    and grad safe in ``spectrum``.
    """
    n = check_int("ell_grid_size", ell_grid_size, minimum=8)
    q = _BIAS.get(nu, 0.5) if q is None else float(q)
    if not -nu < q < 1.5:
        raise ValueError(f"q must lie in ({-nu}, 1.5) for J_{nu}; got {q}.")
    lnl0, lnl1 = (float(v) for v in lnl_range)
    dlnl = (lnl1 - lnl0) / (n - 1)
    lntheta0 = -lnl1
    lnl = lnl0 + dlnl * np.arange(n)
    lntheta = lntheta0 + dlnl * np.arange(n)
    kernel = _kernel(nu, q, n, dlnl, lnl0, lntheta0)
    spectrum = jnp.asarray(spectrum)
    dtype = spectrum.dtype
    biased = spectrum * jnp.asarray(np.exp((2.0 - q) * lnl), dtype=dtype)
    coefficients = jnp.fft.rfft(biased, axis=-1) / n
    product = jnp.conj(coefficients * jnp.asarray(kernel, dtype=coefficients.dtype))
    xi = n * jnp.fft.irfft(product, n=n, axis=-1)
    xi = xi * jnp.asarray(np.exp(-q * lntheta) / (2 * np.pi), dtype=dtype)
    return jnp.asarray(np.exp(lntheta), dtype=dtype), xi


def _extend(ell, cl, lnl):
    """C(ell) on the FFTLog grid ``lnl``: cubic Hermite in ln ell of ln C inside the given
    multipoles (C of one sign), power-law continuation outside."""
    lx = jnp.log(ell)
    sign = jnp.sign(cl[..., :1])
    lc = jnp.log(jnp.abs(cl))
    slopes = jnp.gradient(lc, lx, axis=-1)
    x = jnp.asarray(lnl, dtype=lc.dtype)
    i = jnp.clip(jnp.searchsorted(lx, x, side="right") - 1, 0, lx.shape[0] - 2)
    h = lx[i + 1] - lx[i]
    t = jnp.clip((x - lx[i]) / h, 0.0, 1.0)
    t2, t3 = t * t, t * t * t
    inside = ((2 * t3 - 3 * t2 + 1) * lc[..., i] + (t3 - 2 * t2 + t) * h * slopes[..., i]
              + (-2 * t3 + 3 * t2) * lc[..., i + 1] + (t3 - t2) * h * slopes[..., i + 1])
    below = lc[..., :1] + slopes[..., :1] * (x - lx[0])
    above = lc[..., -1:] + slopes[..., -1:] * (x - lx[-1])
    value = jnp.where(x < lx[0], below, jnp.where(x > lx[-1], above, inside))
    return sign * jnp.exp(value)


def valid_theta_range(ell) -> tuple[float, float]:
    """Angles (radians) at which ``correlation`` trusts its transform for these multipoles:
    from 1 / ell_max to 1 / ell_min (the range the given spectrum covers)."""
    ell = np.asarray(ell, dtype=float)
    return 1.0 / ell.max(), 1.0 / ell.min()


def correlation(ell, cl, theta, statistic: str = "xi_plus", *, bins: bool = False, n_fft: int = 4096):
    """Angular correlation functions from angular spectra (flat sky, FFTLog).

    Parameters
    ----------
    ell : (L,) increasing multipoles > 0 at which ``cl`` is given (log-spaced, a few per
        decade or more, e.g. ``geomspace(2, 1e5, 200)``). J_nu peaks at l theta ~ nu + 1,
        so xi at theta depends on multipoles up to ~ 10 (nu + 1) / theta: give them
        (l up to 1e5 for xi_minus at 1'), or the power-law extension beyond ell[-1]
        decides the result.
    cl : (..., L) spectra of one sign each (e.g. ``angular_cl``'s output, any leading shape)
    theta : (M,) angles in radians, inside ``valid_theta_range(ell)``; or, with
        ``bins=True``, (M + 1,) increasing bin edges
    statistic : "xi_plus" (J_0), "xi_minus" (J_4), "gamma_t" (J_2) or "w_theta" (J_0)
    bins : average over each bin [theta_i, theta_i+1] weighted by theta d theta
    n_fft : static FFTLog grid size

    Returns
    -------
    (..., M) array, dimensionless. jit, vmap and grad safe in ``cl`` (``ell``, ``theta``,
    ``statistic``, ``bins`` and ``n_fft`` are static). Raises ``ValueError`` for an unknown
    statistic, non-increasing or non-positive ``ell``, ``cl`` whose last axis does not
    match, a spectrum that changes sign or vanishes, or angles outside the valid range.
    """
    if statistic not in ORDERS:
        raise ValueError(f"statistic must be one of {sorted(ORDERS)}; got {statistic!r}.")
    ell_np = check_edges("ell", ell, min_value=0.0)
    if ell_np[0] <= 0:
        raise ValueError("ell must be > 0.")
    cl = jnp.asarray(cl)
    if cl.shape[-1] != ell_np.size:
        raise ValueError(f"cl's last axis must match ell ({ell_np.size}); got shape {cl.shape}.")
    if is_concrete(cl):
        values = np.asarray(cl)
        if not np.all(np.isfinite(values)):
            raise ValueError("cl contains NaN or infinite values.")
        signs = np.sign(values)
        if np.any(signs == 0) or np.any(signs != signs[..., :1]):
            raise ValueError("cl must not vanish or change sign across ell (its logarithm is interpolated).")
    theta_np = check_edges("theta", theta, min_value=0.0) if bins else np.asarray(theta, dtype=float)
    if theta_np.ndim != 1 or theta_np.size == 0 or not np.all(np.isfinite(theta_np)):
        raise ValueError(f"theta must be a non-empty 1-d array of finite angles in radians; got shape {theta_np.shape}.")
    low, high = valid_theta_range(ell_np)
    if theta_np.min() < low or theta_np.max() > high:
        raise ValueError(
            f"theta must lie in [{low:.3g}, {high:.3g}] rad, where the spectrum's multipoles "
            f"[{ell_np[0]:.3g}, {ell_np[-1]:.3g}] determine xi; extend ell to reach these angles."
        )
    pad = PAD_DECADES * np.log(10.0)
    lnl_range = (np.log(ell_np[0]) - pad, np.log(ell_np[-1]) + pad)
    lnl = np.linspace(*lnl_range, n_fft)
    dtype = jnp.result_type(float)
    spectrum = _extend(jnp.asarray(ell_np, dtype=dtype), cl.astype(dtype), lnl)
    grid, xi = hankel_transform(n_fft, lnl_range, ORDERS[statistic], spectrum)
    lngrid = jnp.log(grid)
    if not bins:
        return _interp_last(jnp.log(jnp.asarray(theta_np, dtype=dtype)), lngrid, xi)
    # bin average: int xi theta d theta / int theta d theta, Simpson on 33 nodes per bin
    nodes = np.linspace(0.0, 1.0, 33)
    lo, hi = theta_np[:-1, None], theta_np[1:, None]
    t = lo + (hi - lo) * nodes[None, :]  # (M, 33)
    w = np.ones(33)
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    w = w * (hi - lo) / 3.0 / 32.0 * t
    w = w / w.sum(axis=1, keepdims=True)
    values = _interp_last(jnp.log(jnp.asarray(t.ravel(), dtype=dtype)), lngrid, xi)
    values = values.reshape(xi.shape[:-1] + t.shape)
    return jnp.sum(values * jnp.asarray(w, dtype=dtype), axis=-1)


def _interp_last(x, xp, fp):
    """Linear interpolation of (..., N) values ``fp`` on nodes ``xp`` at (M,) points ``x``."""
    i = jnp.clip(jnp.searchsorted(xp, x, side="right") - 1, 0, xp.shape[0] - 2)
    t = (x - xp[i]) / (xp[i + 1] - xp[i])
    return fp[..., i] * (1.0 - t) + fp[..., i + 1] * t
