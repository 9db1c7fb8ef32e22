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
    Runs on host numpy; not jit-safe.
    """
    rhat, ess = {}, {}
    for name, value in samples.items():
        x = np.asarray(value, dtype=float)
        if x.ndim < 2 or x.shape[1] < 4:
            raise ValueError(f"samples[{name!r}] must have shape (n_chains, n_draws >= 4, ...); got {x.shape}.")
        rhat[name] = np.asarray(split_gelman_rubin(x))
        ess[name] = np.asarray(effective_sample_size(x))
    return rhat, ess


def max_rhat(rhat: Mapping[str, np.ndarray]) -> float:
    """The largest R-hat over all sites and components (NaN-safe: NaN counts as inf)."""
    values = [np.nan_to_num(np.ravel(v), nan=np.inf) for v in rhat.values()]
    return float(np.max(np.concatenate(values))) if values else float("nan")


def min_ess(ess: Mapping[str, np.ndarray]) -> float:
    """The smallest effective sample size over all sites and components."""
    values = [np.ravel(v) for v in ess.values()]
    return float(np.min(np.concatenate(values))) if values else float("nan")


def interval_coverage(truth, draws, levels=(0.5, 0.68, 0.9, 0.95)) -> dict:
    """Fraction of trials whose true value lies in the central posterior interval.

    Parameters
    ----------
    truth : (n_trials,) true parameter values of repeated synthetic trials
    draws : (n_trials, n_draws) posterior draws of each trial
    levels : central interval probabilities in (0, 1)

    Returns
    -------
    dict level -> (coverage, binomial standard error sqrt(level (1 - level) / n_trials)).
    A calibrated posterior covers at each nominal level within a few standard errors
    (simulation-based calibration, Talts et al. 2018). Host numpy; not jit safe.
    """
    truth, draws = _check_trials(truth, draws)
    out = {}
    for level in levels:
        if not 0.0 < level < 1.0:
            raise ValueError(f"levels must lie in (0, 1); got {level}.")
        lo, hi = np.percentile(draws, [50.0 * (1.0 - level), 50.0 * (1.0 + level)], axis=1)
        rate = float(np.mean((lo <= truth) & (truth <= hi)))
        out[level] = (rate, float(np.sqrt(level * (1.0 - level) / truth.size)))
    return out


def sbc_ranks(truth, draws) -> np.ndarray:
    """Rank of each true value among its trial's draws, (n_trials,) ints in [0, n_draws].

    Uniform on {0, ..., n_draws} when the posterior is calibrated and the draws are
    independent (thin autocorrelated chains first; Talts et al. 2018). Host numpy.
    """
    truth, draws = _check_trials(truth, draws)
    return np.sum(draws < truth[:, None], axis=1)


def _check_trials(truth, draws):
    truth = np.asarray(truth, dtype=float)
    draws = np.asarray(draws, dtype=float)
    if truth.ndim != 1 or draws.ndim != 2 or draws.shape[0] != truth.shape[0]:
        raise ValueError(
            f"truth must be (n_trials,) and draws (n_trials, n_draws); got {truth.shape} and {draws.shape}."
        )
    return truth, draws
