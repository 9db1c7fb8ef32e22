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
