"""IMNN training: an (init, step) pair of pure functions and a driver with early stopping.

``imnn(apply_fn, optimizer, source)`` returns ``IMNN(init, step, fisher, loss)``:

- ``init(params) -> IMNNState``
- ``step(state, key) -> (IMNNState, IMNNInfo)``: simulate (or read) the fiducial and
  derivative summaries, form F, C, dmu, take one optimiser step on the IMNN loss;
- ``fisher(params, key, source=None) -> FisherStats`` on the training source or any other
  (e.g. validation simulations);
- ``loss(params, key) -> (loss, (FisherStats, LossInfo))``.

``fit_imnn`` runs ``step`` in compiled blocks of ``validate_every`` steps, measures the
Fisher information on a separate validation source after each block, keeps the parameters
with the largest validation ln|F| (the regularisation term only fixes the summaries' scale,
which F does not depend on) and stops when it has not improved for ``patience`` blocks.

Devices: the simulations of each step are sharded over a ``jax.sharding.Mesh`` with one
axis ``"sims"`` (by default all of ``jax.devices()``; one CPU works the same way), and XLA
sums the moments across devices, so the Fisher matrix is that of all n_s simulations.
"""

from __future__ import annotations

import os
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh
from tqdm.auto import tqdm

from cosmojax._validate import check_int
from cosmojax.imnn.derivatives import SIM_AXIS, SummarySource
from cosmojax.imnn.fisher import FisherStats, fisher_statistics
from cosmojax.imnn.loss import LossInfo, coupling_alpha, imnn_loss
from cosmojax.nn.training import load_checkpoint, save_checkpoint


class IMNNState(NamedTuple):
    """Training state: network ``params``, optax ``opt_state``, ``step`` (int32 scalar)."""

    params: Any
    opt_state: Any
    step: jax.Array


class IMNNInfo(NamedTuple):
    """Diagnostics of one step (before the update): ``loss``, ``F`` (p, p), ``logdet_F``,
    ``Lambda2`` and the coupling ``r``."""

    loss: jax.Array
    F: jax.Array
    logdet_F: jax.Array
    Lambda2: jax.Array
    r: jax.Array


class IMNN(NamedTuple):
    """An IMNN built by :func:`imnn`: pure functions, the summary source and the device mesh.

    init(params) -> IMNNState; step(state, key) -> (IMNNState, IMNNInfo);
    fisher(params, key, src=None) -> FisherStats; loss(params, key) -> (scalar, aux).
    All jit safe; ``loss`` is differentiable with respect to ``params``.
    """

    init: Callable
    step: Callable
    fisher: Callable
    loss: Callable
    source: SummarySource
    mesh: Any


def device_mesh(devices=None) -> Mesh:
    """A one-axis ``Mesh`` named ``"sims"`` over ``devices`` (default: all of ``jax.devices()``).

    Host-side set-up: not traced.
    """
    devices = jax.devices() if devices is None else list(devices)
    return Mesh(np.asarray(devices), (SIM_AXIS,))


def _check_divisible(source: SummarySource, mesh: Mesh, name: str):
    n_dev = mesh.devices.size
    if source.n_s % n_dev or source.n_d % n_dev:
        raise ValueError(
            f"{name}: n_s = {source.n_s} and n_d = {source.n_d} must be multiples of the {n_dev} devices "
            "the simulations are sharded over; change them or pass devices=."
        )


def imnn(
    apply_fn: Callable,
    optimizer: optax.GradientTransformation,
    source: SummarySource,
    *,
    lam: float = 10.0,
    epsilon: float = 0.1,
    devices=None,
) -> IMNN:
    """Build the IMNN (init, step) pair.

    Parameters
    ----------
    apply_fn : ``(params, data) -> (s,)`` summaries of one data set (any flax module, e.g.
        ``lambda w, d: model.apply(w, d[None])[0]``)
    optimizer : optax.GradientTransformation
    source : SummarySource (``finite_differences``, ``autodiff`` or ``precomputed``)
    lam, epsilon : coupling of the covariance regularisation (``imnn_loss``)
    devices : sequence of devices or None (all); n_s and n_d must be multiples of their number

    ``init``, ``step``, ``fisher`` and ``loss`` are pure and jit safe (``step`` is jitted
    by ``fit_imnn``); ``loss`` is differentiable with respect to ``params``.
    """
    coupling_alpha(lam, epsilon)  # validates lam and epsilon early
    mesh = device_mesh(devices)
    _check_divisible(source, mesh, "source")

    def stats_on(src: SummarySource, params, key) -> FisherStats:
        x, dx = src.compute(apply_fn, params, key, mesh)
        return fisher_statistics(x, dx)

    def loss(params, key):
        stats = stats_on(source, params, key)
        value, parts = imnn_loss(stats, lam, epsilon)
        return value, (stats, parts)

    def init(params) -> IMNNState:
        return IMNNState(params, optimizer.init(params), jnp.zeros((), jnp.int32))

    def step(state: IMNNState, key):
        (value, (stats, parts)), grads = jax.value_and_grad(loss, has_aux=True)(state.params, key)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        info = IMNNInfo(value, stats.F, parts.logdet_F, parts.Lambda2, parts.r)
        return IMNNState(params, opt_state, state.step + 1), info

    def fisher(params, key, src: SummarySource | None = None) -> FisherStats:
        src = source if src is None else src
        _check_divisible(src, mesh, "validation source")
        return stats_on(src, params, key)

    return IMNN(init, step, fisher, loss, source, mesh)


class IMNNResult(NamedTuple):
    """Outcome of ``fit_imnn``.

    params : best parameters (largest validation ln|F|)
    state : final IMNNState
    stats : FisherStats of ``params`` on the validation source
    history : dict of numpy arrays, one entry per block: ``step``, ``train_loss``,
        ``train_logdet_F``, ``val_loss``, ``val_logdet_F``, ``Lambda2``
    best_step : int
    stopped_early : bool
    """

    params: Any
    state: IMNNState
    stats: FisherStats
    history: dict
    best_step: int
    stopped_early: bool


def fit_imnn(
    key,
    model: IMNN,
    params,
    *,
    n_steps: int = 1000,
    validate_every: int = 10,
    validation: SummarySource | None = None,
    patience: int = 20,
    min_delta: float = 0.0,
    lam: float = 10.0,
    epsilon: float = 0.1,
    progress: bool = True,
    checkpoint_path: str | None = None,
    resume: bool = True,
) -> IMNNResult:
    """Train an IMNN with validation-based early stopping.

    Parameters
    ----------
    key : PRNG key
        Step ``i`` uses ``fold_in(k_train, i)``; validation uses one fixed key, so the
        validation simulations are the same at every check (with a simulator source) and
        different from every training simulation.
    model : IMNN from ``imnn``
    params : initial network parameters
    n_steps : total optimiser steps (counting those already in a resumed checkpoint)
    validate_every : steps per compiled block between validations
    validation : SummarySource or None (the training source with a held-out key)
    patience : blocks without an increase of the validation ln|F| by ``min_delta`` before stopping
    lam, epsilon : coupling used for the recorded validation loss (use the trainer's values)
    progress : show a tqdm bar with det F
    checkpoint_path, resume : write a checkpoint after each block; continue from it if present

    Returns
    -------
    IMNNResult. A Python driver around jitted blocks (not itself jit safe).
    """
    n_steps = check_int("n_steps", n_steps)
    validate_every = check_int("validate_every", validate_every)
    k_train, k_val = jax.random.split(key)
    val_src = model.source if validation is None else validation

    @jax.jit
    def block(state, start):
        keys = jax.vmap(lambda i: jax.random.fold_in(k_train, i))(start + jnp.arange(validate_every))
        return jax.lax.scan(model.step, state, keys)

    @jax.jit
    def validate(params):
        stats = model.fisher(params, k_val, val_src)
        value, parts = imnn_loss(stats, lam, epsilon)
        return value, stats, parts

    state = model.init(params)
    hist_keys = ("step", "train_loss", "train_logdet_F", "val_loss", "val_logdet_F", "Lambda2")
    record = {
        "state": state,
        "best_params": params,
        "best_val": np.inf,
        "best_step": 0,
        "wait": 0,
        "history": {k: np.zeros(0) for k in hist_keys},
    }
    if checkpoint_path is not None and resume and os.path.exists(checkpoint_path):
        record = load_checkpoint(checkpoint_path, record)
        record["state"] = jax.tree_util.tree_map(jnp.asarray, record["state"])
    state, best_params = record["state"], record["best_params"]
    best_val, best_step, wait = float(record["best_val"]), int(record["best_step"]), int(record["wait"])
    history = {k: list(np.asarray(record["history"][k], dtype=float).reshape(-1)) for k in hist_keys}
    stopped = wait >= patience
    done = int(state.step)
    if done % validate_every:
        raise ValueError(f"the checkpoint is at step {done}, not a multiple of validate_every = {validate_every}.")
    bar = tqdm(total=n_steps, initial=done, disable=not progress, desc="imnn")
    while done < n_steps and not stopped:
        state, info = block(state, jnp.asarray(done, jnp.uint32))
        done += validate_every
        vloss, stats, parts = validate(state.params)
        vloss = float(vloss)
        for name, value in zip(
            hist_keys,
            (done, info.loss[-1], info.logdet_F[-1], vloss, parts.logdet_F, parts.Lambda2),
        ):
            history[name].append(float(value))
        vlogdet = float(parts.logdet_F)
        if np.isfinite(vlogdet) and -vlogdet < best_val - min_delta:
            best_val, best_step, best_params, wait = -vlogdet, done, state.params, 0
        else:
            wait += 1
        stopped = wait >= patience
        bar.update(validate_every)
        bar.set_postfix(detF=f"{float(jnp.exp(parts.logdet_F)):.4g}", Lambda2=f"{float(parts.Lambda2):.3g}")
        if checkpoint_path is not None:
            save_checkpoint(
                checkpoint_path,
                {
                    "state": state,
                    "best_params": best_params,
                    "best_val": best_val,
                    "best_step": best_step,
                    "wait": wait,
                    "history": {k: np.asarray(v, dtype=float) for k, v in history.items()},
                },
            )
    bar.close()
    _, best_stats, _ = validate(best_params)
    return IMNNResult(
        best_params,
        state,
        best_stats,
        {k: np.asarray(v) for k, v in history.items()},
        int(best_step),
        bool(stopped),
    )


__all__ = ["IMNN", "IMNNInfo", "IMNNResult", "IMNNState", "LossInfo", "device_mesh", "fit_imnn", "imnn"]
