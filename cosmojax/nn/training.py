"""Supervised training with optax: an (init, step) pair of pure functions and a ``fit`` driver.

``make_trainer(loss_fn, optimizer)`` returns ``Trainer(init, step, evaluate)``:

- ``init(params) -> TrainState``
- ``step(state, batch, key) -> (TrainState, StepInfo)``: one optimiser update
- ``evaluate(params, batch, key) -> loss``

where ``loss_fn(params, batch, key) -> scalar`` (mean over the batch) and ``batch`` is any
pytree of arrays with a leading sample axis (e.g. ``(x, y)``).

``fit`` splits the data into training and validation sets, runs epochs of shuffled
mini-batches (one compiled ``lax.scan`` per epoch), stops early when the validation loss
has not improved for ``patience`` epochs, returns the best parameters, shows a tqdm bar
(``progress=False`` hides it) and checkpoints to a file it can resume from. Everything
random derives from one key (epoch ``e`` uses ``fold_in(key, e)``), so a run resumed from a
checkpoint ends bit-identical to an uninterrupted one on the same backend.
"""

from __future__ import annotations

import os
from typing import Any, Callable, NamedTuple

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm


class TrainState(NamedTuple):
    """Optimiser state: ``params`` (pytree), ``opt_state`` (optax), ``step`` (int32 scalar)."""

    params: Any
    opt_state: Any
    step: jax.Array


class StepInfo(NamedTuple):
    """Diagnostics of one step: ``loss`` before the update and the global ``grad_norm``."""

    loss: jax.Array
    grad_norm: jax.Array


class Trainer(NamedTuple):
    """The pure functions of a trainer, from :func:`make_trainer`.

    init(params) -> TrainState; step(state, batch, key) -> (TrainState, StepInfo);
    evaluate(params, batch, key) -> scalar loss. All pure and jit safe.
    """

    init: Callable
    step: Callable
    evaluate: Callable


def make_trainer(loss_fn: Callable, optimizer: optax.GradientTransformation) -> Trainer:
    """Build the (init, step) pair for ``loss_fn(params, batch, key) -> scalar``.

    Both functions are pure and jit safe; ``step`` is differentiable in nothing (it applies
    an update). ``evaluate`` is ``loss_fn`` itself.
    """

    def init(params) -> TrainState:
        return TrainState(params, optimizer.init(params), jnp.zeros((), jnp.int32))

    def step(state: TrainState, batch, key):
        loss, grads = jax.value_and_grad(loss_fn)(state.params, batch, key)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        return TrainState(params, opt_state, state.step + 1), StepInfo(loss, optax.tree.norm(grads))

    return Trainer(init, step, loss_fn)


class FitResult(NamedTuple):
    """Outcome of ``fit``.

    params : best parameters (lowest validation loss)
    state : final ``TrainState`` (last epoch run, not necessarily the best)
    train_loss, val_loss : (n_epochs_run,) numpy arrays, mean per epoch
    best_epoch : int, index of the best epoch
    stopped_early : bool
    """

    params: Any
    state: TrainState
    train_loss: np.ndarray
    val_loss: np.ndarray
    best_epoch: int
    stopped_early: bool


def _n_samples(data) -> int:
    leaves = jax.tree_util.tree_leaves(data)
    if not leaves:
        raise ValueError("data must be a pytree holding at least one array.")
    sizes = {np.shape(leaf)[0] if np.ndim(leaf) else None for leaf in leaves}
    if len(sizes) != 1 or None in sizes:
        raise ValueError(f"every array in data must share its leading (sample) axis; got sizes {sorted(map(str, sizes))}.")
    return sizes.pop()


def _take(data, idx):
    return jax.tree_util.tree_map(lambda a: jnp.asarray(a)[idx], data)


def save_checkpoint(path: str, tree) -> None:
    """Write a pytree of arrays/scalars to ``path`` (flax msgpack), atomically.

    Host-side file I/O: not traced.
    """
    blob = flax.serialization.msgpack_serialize(flax.serialization.to_state_dict(jax.device_get(tree)))
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as fh:
        fh.write(blob)
    os.replace(tmp, path)


def load_checkpoint(path: str, target):
    """Read a checkpoint written by ``save_checkpoint`` into the structure of ``target``.

    Host-side file I/O: not traced.
    """
    with open(path, "rb") as fh:
        state = flax.serialization.msgpack_restore(fh.read())
    return flax.serialization.from_state_dict(target, state)


def fit(
    key,
    loss_fn: Callable,
    params,
    data,
    optimizer: optax.GradientTransformation,
    *,
    n_epochs: int = 100,
    batch_size: int = 64,
    val_fraction: float = 0.2,
    val_data=None,
    patience: int = 10,
    min_delta: float = 0.0,
    progress: bool = True,
    checkpoint_path: str | None = None,
    checkpoint_every: int = 1,
    resume: bool = True,
) -> FitResult:
    """Train ``params`` to minimise ``loss_fn`` on ``data`` with early stopping.

    Parameters
    ----------
    key : PRNG key
        Drives the train/validation split, the shuffling and the ``key`` passed to
        ``loss_fn`` (e.g. for dropout or noise).
    loss_fn : callable ``(params, batch, key) -> scalar``
        Mean loss over a batch; ``batch`` has the structure of ``data``.
    params : pytree
        Initial parameters (e.g. ``model.init(...)``).
    data : pytree of arrays with a common leading axis of N samples
    optimizer : optax.GradientTransformation
    n_epochs : int
        Total epochs (counting those already in a resumed checkpoint).
    batch_size : int
        Mini-batch size; the last incomplete batch of each shuffled epoch is dropped.
    val_fraction : float
        Fraction of ``data`` held out for validation when ``val_data`` is None.
    val_data : pytree or None
        Explicit validation set (then all of ``data`` is used for training).
    patience : int
        Stop after this many epochs without the validation loss improving by ``min_delta``.
    min_delta : float
        Smallest decrease of the validation loss that counts as an improvement.
    progress : bool
        Show a tqdm progress bar.
    checkpoint_path : str or None
        File for checkpoints (written every ``checkpoint_every`` epochs and at the end).
    resume : bool
        When the checkpoint file exists, continue from it.

    Returns
    -------
    FitResult. Not jit safe itself (it is the Python driver around jitted steps).
    """
    n = _n_samples(data)
    key_split, key_train = jax.random.split(key)
    if val_data is None:
        if not 0.0 < val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in (0, 1); got {val_fraction}.")
        perm = np.asarray(jax.random.permutation(key_split, n))
        n_val = max(1, int(round(val_fraction * n)))
        val_data, train_data = _take(data, perm[:n_val]), _take(data, perm[n_val:])
    else:
        _n_samples(val_data)
        train_data = data
    n_train = _n_samples(train_data)
    if not 1 <= batch_size <= n_train:
        raise ValueError(f"batch_size must be between 1 and the {n_train} training samples; got {batch_size}.")
    n_batches = n_train // batch_size
    n_val = _n_samples(val_data)
    trainer = make_trainer(loss_fn, optimizer)

    @jax.jit
    def run_epoch(state, epoch_key):
        k_perm, k_steps = jax.random.split(epoch_key)
        perm = jax.random.permutation(k_perm, n_train)[: n_batches * batch_size]
        batches = jax.tree_util.tree_map(
            lambda a: a[perm].reshape((n_batches, batch_size) + a.shape[1:]), train_data
        )
        step_keys = jax.random.split(k_steps, n_batches)
        state, info = jax.lax.scan(lambda s, xs: trainer.step(s, xs[0], xs[1]), state, (batches, step_keys))
        return state, jnp.mean(info.loss)

    n_full, n_rest = divmod(n_val, batch_size)

    @jax.jit
    def val_loss(params, epoch_key):
        # full chunks through lax.map, the remainder as one smaller chunk; sample-weighted mean
        total = 0.0
        if n_full:
            chunks = jax.tree_util.tree_map(
                lambda a: a[: n_full * batch_size].reshape((n_full, batch_size) + a.shape[1:]), val_data
            )
            total = batch_size * jnp.sum(jax.lax.map(lambda c: trainer.evaluate(params, c, epoch_key), chunks))
        if n_rest:
            rest = jax.tree_util.tree_map(lambda a: a[n_full * batch_size :], val_data)
            total = total + n_rest * trainer.evaluate(params, rest, epoch_key)
        return total / n_val

    state = trainer.init(params)
    record = {
        "state": state,
        "best_params": params,
        "best_val": np.inf,
        "best_epoch": -1,
        "wait": 0,
        "epoch": 0,
        "train_loss": np.zeros(0),
        "val_loss": np.zeros(0),
    }
    if checkpoint_path is not None and resume and os.path.exists(checkpoint_path):
        record = load_checkpoint(checkpoint_path, record)
        record["state"] = jax.tree_util.tree_map(jnp.asarray, record["state"])
    train_hist = list(np.asarray(record["train_loss"], dtype=float).reshape(-1))
    val_hist = list(np.asarray(record["val_loss"], dtype=float).reshape(-1))
    state, best_params = record["state"], record["best_params"]
    best_val, best_epoch, wait = float(record["best_val"]), int(record["best_epoch"]), int(record["wait"])
    start = int(record["epoch"])
    stopped = wait >= patience

    def snapshot(epoch):
        return {
            "state": state,
            "best_params": best_params,
            "best_val": best_val,
            "best_epoch": best_epoch,
            "wait": wait,
            "epoch": epoch,
            "train_loss": np.asarray(train_hist, dtype=float),
            "val_loss": np.asarray(val_hist, dtype=float),
        }

    bar = tqdm(range(start, n_epochs), disable=not progress, desc="fit", initial=start, total=n_epochs)
    epoch = start
    for epoch in bar:
        if stopped:
            break
        epoch_key = jax.random.fold_in(key_train, epoch)
        state, tl = run_epoch(state, epoch_key)
        vl = float(val_loss(state.params, jax.random.fold_in(epoch_key, 1)))
        train_hist.append(float(tl))
        val_hist.append(vl)
        if vl < best_val - min_delta:
            best_val, best_epoch, best_params, wait = vl, epoch, state.params, 0
        else:
            wait += 1
        bar.set_postfix(train=f"{float(tl):.4g}", val=f"{vl:.4g}")
        done = epoch + 1
        if wait >= patience:
            stopped = True
        if checkpoint_path is not None and (done % checkpoint_every == 0 or stopped or done == n_epochs):
            save_checkpoint(checkpoint_path, snapshot(done))
        if stopped:
            break
    bar.close()
    return FitResult(
        best_params, state, np.asarray(train_hist), np.asarray(val_hist), best_epoch, bool(stopped)
    )
