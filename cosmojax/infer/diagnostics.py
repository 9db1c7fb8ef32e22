"""Convergence diagnostics of Monte Carlo chains: split R-hat and effective sample size.

The estimators are numpyro's (Gelman et al. 2013; Vehtari et al. 2021 rank-free form),
applied to every array in a dict of samples shaped (n_chains, n_draws, ...).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
from numpyro.diagnostics import effective_sample_size, split_gelman_rubin


def chain_diagnostics(samples: Mapping[str, np.ndarray]) -> tuple[dict, dict]:
    """Split R-hat and effective sample size of every site.

    Parameters
    ----------
    samples : dict name -> array of shape (n_chains, n_draws, *site_shape)

    Returns
    -------
    (rhat, ess): two dicts name -> array of shape ``site_shape``. Needs n_draws >= 4.
    As in Stan, the ESS of antithetic chains (whose estimated integrated autocorrelation
    time falls below 1 / log10(S), S the total number of draws; numpyro returns a negative
    or huge value there) is capped at S log10(S). Runs on host numpy; not jit-safe.
    """
    rhat, ess = {}, {}
    for name, value in samples.items():
        x = np.asarray(value, dtype=float)
        if x.ndim < 2 or x.shape[1] < 4:
            raise ValueError(f"samples[{name!r}] must have shape (n_chains, n_draws >= 4, ...); got {x.shape}.")
        rhat[name] = np.asarray(split_gelman_rubin(x))
        total = x.shape[0] * x.shape[1]
        cap = total * np.log10(total)
        n_eff = np.asarray(effective_sample_size(x))
        ess[name] = np.where((n_eff < 0) | (n_eff > cap), cap, n_eff)
    return rhat, ess


def max_rhat(rhat: Mapping[str, np.ndarray]) -> float:
    """The largest R-hat over all sites and components (NaN-safe: NaN counts as inf)."""
    values = [np.nan_to_num(np.ravel(v), nan=np.inf) for v in rhat.values()]
    return float(np.max(np.concatenate(values))) if values else float("nan")


def min_ess(ess: Mapping[str, np.ndarray]) -> float:
    """The smallest effective sample size over all sites and components."""
    values = [np.ravel(v) for v in ess.values()]
    return float(np.min(np.concatenate(values))) if values else float("nan")


def interval_coverage(truth, draws, levels=(0.5, 0.68, 0.9, 0.95), weights=None) -> dict:
    """Fraction of trials whose true value lies in the central posterior interval.

    Parameters
    ----------
    truth : (n_trials,) true parameter values of repeated synthetic trials
    draws : (n_trials, n_draws) posterior draws of each trial
    levels : central interval probabilities in (0, 1)
    weights : optional (n_trials, n_draws) non-negative draw weights (e.g. from
        ``weighted_draws``); the intervals are then weighted quantiles

    Returns
    -------
    dict level -> (coverage, binomial standard error sqrt(level (1 - level) / n_trials)).
    A calibrated posterior covers at each nominal level within a few standard errors
    (simulation-based calibration, Talts et al. 2018). Host numpy; not jit safe.
    """
    truth, draws, weights = _check_trials(truth, draws, weights)
    out = {}
    for level in levels:
        if not 0.0 < level < 1.0:
            raise ValueError(f"levels must lie in (0, 1); got {level}.")
        tails = [0.5 * (1.0 - level), 0.5 * (1.0 + level)]
        if weights is None:
            lo, hi = np.percentile(draws, [100.0 * t for t in tails], axis=1)
        else:
            lo, hi = _weighted_quantiles(draws, weights, tails)
        rate = float(np.mean((lo <= truth) & (truth <= hi)))
        out[level] = (rate, float(np.sqrt(level * (1.0 - level) / truth.size)))
    return out


def sbc_ranks(truth, draws, weights=None) -> np.ndarray:
    """Rank of each true value among its trial's draws, (n_trials,) ints in [0, n_draws].

    Uniform on {0, ..., n_draws} when the posterior is calibrated and the draws are
    independent (thin autocorrelated chains first; Talts et al. 2018). With ``weights``
    ((n_trials, n_draws), non-negative) the rank is n_draws times the weight of the draws
    below the truth, rounded. Host numpy.
    """
    truth, draws, weights = _check_trials(truth, draws, weights)
    below = draws < truth[:, None]
    if weights is None:
        return np.sum(below, axis=1)
    return np.rint(draws.shape[1] * np.sum(weights * below, axis=1)).astype(int)


def _weighted_quantiles(draws, weights, probabilities):
    """Per-row quantiles of weighted draws (weights normalised per row), one (n_trials,)
    array per probability; linear between the cumulative-weight midpoints of sorted draws."""
    order = np.argsort(draws, axis=1)
    x = np.take_along_axis(draws, order, axis=1)
    w = np.take_along_axis(weights, order, axis=1)
    centres = np.cumsum(w, axis=1) - 0.5 * w
    return [np.array([np.interp(p, c, row) for c, row in zip(centres, x)]) for p in probabilities]


def _check_trials(truth, draws, weights=None):
    truth = np.asarray(truth, dtype=float)
    draws = np.asarray(draws, dtype=float)
    if truth.ndim != 1 or draws.ndim != 2 or draws.shape[0] != truth.shape[0]:
        raise ValueError(
            f"truth must be (n_trials,) and draws (n_trials, n_draws); got {truth.shape} and {draws.shape}."
        )
    if weights is not None:
        weights = np.asarray(weights, dtype=float)
        if weights.shape != draws.shape:
            raise ValueError(f"weights must have the shape of draws {draws.shape}; got {weights.shape}.")
        total = weights.sum(axis=1, keepdims=True)
        if not np.all(np.isfinite(weights)) or np.any(weights < 0) or np.any(total <= 0):
            raise ValueError("weights must be finite, >= 0 and not all zero in any trial.")
        weights = weights / total
    return truth, draws, weights
