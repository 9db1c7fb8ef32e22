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

``fit_imnn`` runs on the loop driver shared with ``nn.fit`` and the samplers (progress bar,
early stopping, checkpoints in the format of ``cosmojax.io.save_checkpoint``, resume). Its
compiled block and validation are cached on the model and the static settings, so a
second call with the same model, sizes and settings compiles nothing.

Devices: the simulations of each step are sharded over the one-axis mesh of
``cosmojax.parallel.device_mesh`` (by default all local devices; one CPU works the same
way), and XLA sums the moments across devices, so the Fisher matrix is that of all n_s
simulations.
"""

from __future__ import annotations

import functools
import math
import warnings
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh

from cosmojax import parallel
from cosmojax._loop import run_blocks, start_or_resume
from cosmojax._validate import check_int
from cosmojax.imnn.derivatives import SummarySource
from cosmojax.imnn.fisher import FisherStats, fisher_statistics
from cosmojax.imnn.loss import LossInfo, coupling_alpha, imnn_loss
from cosmojax.io import check_output_path


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
    """Deprecated: use ``cosmojax.parallel.device_mesh``.

    The one-axis ``Mesh`` of ``cosmojax.parallel.device_mesh(devices)`` (default: all local
    devices), whose axis the IMNN summary sources shard their simulations along. Host-side
    set-up: not traced.
    """
    warnings.warn(
        "cosmojax.imnn.device_mesh is deprecated; use cosmojax.parallel.device_mesh.", DeprecationWarning, stacklevel=2
    )
    return parallel.device_mesh(devices)


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
    devices : None (all local devices), an int n (the first n) or a sequence of devices, as in
        ``cosmojax.parallel.device_mesh``; n_s and n_d must be multiples of their number

    ``init``, ``step``, ``fisher`` and ``loss`` are pure and jit safe (``step`` is jitted
    by ``fit_imnn``); ``loss`` is differentiable with respect to ``params``.
    """
    coupling_alpha(lam, epsilon)  # validates lam and epsilon early
    mesh = parallel.device_mesh(devices)
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


@functools.partial(jax.jit, static_argnames=("step", "length"))
def _train_block(state, key, start, *, step, length):
    """``length`` IMNN steps from ``state``, step i with ``fold_in(key, start + i)``.

    Compiled once per (model step, length): the key and the start are traced arguments."""
    keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(start + jnp.arange(length))
    return jax.lax.scan(step, state, keys)


@functools.partial(jax.jit, static_argnames=("fisher", "source", "lam", "epsilon"))
def _validate(params, key, *, fisher, source, lam, epsilon):
    """Fisher statistics and IMNN loss of ``params`` on ``source``; compiled once per
    (model, source, lam, epsilon)."""
    stats = fisher(params, key, source)
    value, parts = imnn_loss(stats, lam, epsilon)
    return value, stats, parts


def _finite_or_raise(name: str, values, step: int, checkpoint_path) -> None:
    values = np.asarray(values, dtype=float)
    if np.all(np.isfinite(values)):
        return
    saved = f" The checkpoint {checkpoint_path!r} holds the last block before it." if checkpoint_path else ""
    raise FloatingPointError(
        f"fit_imnn: the {name} loss is {values[~np.isfinite(values)][0]} by step {step}, so training stopped. "
        "Lower the learning rate, raise lam, or check the simulator and network for NaN or infinite "
        f"summaries.{saved}"
    )


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
    checkpoint_every: int = 1,
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
    n_steps : total optimiser steps (counting those already in a resumed checkpoint),
        run in ceil(n_steps / validate_every) blocks
    validate_every : steps per compiled block between validations
    validation : SummarySource or None (the training source with a held-out key)
    patience : blocks without an increase of the validation ln|F| by ``min_delta`` before stopping
    lam, epsilon : coupling used for the recorded validation loss (use the trainer's values)
    progress : show a tqdm bar with det F
    checkpoint_path : file written every ``checkpoint_every`` blocks and at the end (format of
        ``cosmojax.io.save_checkpoint``); its folder must exist
    resume : continue from ``checkpoint_path`` if it exists (ValueError if it is corrupted or
        from another run: delete it or pass ``resume=False``)

    Returns
    -------
    IMNNResult. A Python driver around jitted blocks (not itself jit safe). The block and
    the validation are compiled once per model, ``validate_every``, validation source,
    ``lam`` and ``epsilon``; later calls with other keys or parameters of the same shapes
    reuse them.

    Raises
    ------
    FloatingPointError
        When a training step's loss or the validation loss is NaN or infinite: training
        stops there instead of returning stale parameters.
    """
    n_steps = check_int("n_steps", n_steps)
    validate_every = check_int("validate_every", validate_every)
    patience = check_int("patience", patience)
    if not (np.isfinite(min_delta) and min_delta >= 0):
        raise ValueError(f"min_delta must be finite and >= 0; got {min_delta!r}.")
    coupling_alpha(lam, epsilon)
    if checkpoint_path is not None:
        checkpoint_path = check_output_path("checkpoint_path", checkpoint_path)
    k_train, k_val = jax.random.split(key)
    val_src = model.source if validation is None else validation
    validate = functools.partial(_validate, fisher=model.fisher, source=val_src, lam=float(lam), epsilon=float(epsilon))

    def block(state, i):
        return _train_block(state, k_train, jnp.asarray(i * validate_every, jnp.uint32), step=model.step,
                            length=validate_every)

    def bookkeeping(i, state, info, aux):
        done = (i + 1) * validate_every
        _finite_or_raise("training", info.loss, done, checkpoint_path)
        vloss, _, parts = validate(state.params, k_val)
        _finite_or_raise("validation", vloss, done, checkpoint_path)
        values = (done, info.loss[-1], info.logdet_F[-1], vloss, parts.logdet_F, parts.Lambda2)
        history = {name: np.append(aux["history"][name], float(v)) for name, v in zip(HISTORY_KEYS, values)}
        aux = dict(aux, history=history)
        vlogdet = float(parts.logdet_F)
        if -vlogdet < aux["best_val"] - min_delta:
            aux.update(best_val=-vlogdet, best_step=done, best_params=state.params, wait=0)
        else:
            aux["wait"] += 1
        postfix = {"detF": f"{float(jnp.exp(parts.logdet_F)):.4g}", "Lambda2": f"{float(parts.Lambda2):.3g}"}
        return aux, aux["wait"] >= patience, postfix

    aux = {
        "best_params": params,
        "best_val": np.inf,
        "best_step": 0,
        "wait": 0,
        "history": {k: np.zeros(0) for k in HISTORY_KEYS},
    }
    loop = start_or_resume(checkpoint_path, model.init(params), aux, resume)
    if int(loop.state.step) != loop.blocks * validate_every:
        raise ValueError(
            f"checkpoint_path {checkpoint_path!r} is at step {int(loop.state.step)}, not after whole blocks of "
            f"validate_every = {validate_every}; resume with the validate_every it was written with, or pass resume=False."
        )
    loop = run_blocks(
        block, loop, math.ceil(n_steps / validate_every), callback=bookkeeping, progress=progress, desc="imnn",
        steps_per_block=validate_every, checkpoint_path=checkpoint_path, checkpoint_every=checkpoint_every,
    )
    aux = loop.aux
    _, best_stats, _ = validate(aux["best_params"], k_val)
    return IMNNResult(
        aux["best_params"],
        loop.state,
        best_stats,
        {k: np.asarray(v) for k, v in aux["history"].items()},
        int(aux["best_step"]),
        bool(loop.stopped),
    )


#: Entries of ``IMNNResult.history``, one value per block.
HISTORY_KEYS = ("step", "train_loss", "train_logdet_F", "val_loss", "val_logdet_F", "Lambda2")

__all__ = ["IMNN", "IMNNInfo", "IMNNResult", "IMNNState", "LossInfo", "device_mesh", "fit_imnn", "imnn"]
