"""Supervised training with optax: an (init, step) pair of pure functions and a ``fit`` driver.

``make_trainer(loss_fn, optimizer)`` returns ``Trainer(init, step, evaluate)``:

- ``init(params) -> TrainState``
- ``step(state, batch, key) -> (TrainState, StepInfo)``: one optimiser update
- ``evaluate(params, batch, key) -> loss``

where ``loss_fn(params, batch, key) -> scalar`` (mean over the batch) and ``batch`` is any
pytree of arrays with a leading sample axis (e.g. ``(x, y)``).

``fit`` splits the data into training and validation sets, runs epochs of shuffled
mini-batches (one compiled ``lax.scan`` per epoch) through the loop driver shared with the
IMNN trainer and the samplers, stops early when the validation loss has not improved for
``patience`` epochs, stops with ``FloatingPointError`` when a loss turns NaN or infinite,
returns the best parameters, shows a tqdm bar (``progress=False`` hides it) and
checkpoints to a file it can resume from (``cosmojax.io.save_checkpoint``). Everything
random derives from one key (epoch ``e`` uses ``fold_in(key, e)``), so a run resumed from a
checkpoint ends bit-identical to an uninterrupted one on the same backend.
"""

from __future__ import annotations

import warnings
from functools import partial
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from cosmojax import io
from cosmojax._loop import start_or_resume, run_blocks
from cosmojax._validate import check_finite, check_int


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
    """Deprecated alias of :func:`cosmojax.io.save_checkpoint` (same arguments).

    Writes the one checkpoint format of cosmojax (atomic, checksummed). Host-side file
    I/O: not traced.
    """
    warnings.warn(
        "cosmojax.nn.save_checkpoint is deprecated; use cosmojax.io.save_checkpoint.", DeprecationWarning, stacklevel=2
    )
    io.save_checkpoint(path, tree)


def load_checkpoint(path: str, target):
    """Deprecated alias of :func:`cosmojax.io.load_checkpoint` (same arguments).

    Host-side file I/O: not traced.
    """
    warnings.warn(
        "cosmojax.nn.load_checkpoint is deprecated; use cosmojax.io.load_checkpoint.", DeprecationWarning, stacklevel=2
    )
    return io.load_checkpoint(path, target)


def _check_loss(name: str, value: float, epoch: int, checkpoint_path) -> None:
    """FloatingPointError when a loss is NaN or infinite: training cannot go on from it."""
    if np.isfinite(value):
        return
    saved = (f" The checkpoint {checkpoint_path!r} holds the last epochs before it." if checkpoint_path else "")
    raise FloatingPointError(
        f"fit: the {name} loss is {value} at epoch {epoch}, so training stopped. Lower the learning rate, "
        f"clip the gradients (optax.clip_by_global_norm) or check loss_fn and the data for NaN or infinite values.{saved}"
    )


class _Same:
    """A static argument of the compiled epoch that is equal only to itself: repeated
    ``fit`` calls with the same ``loss_fn`` and ``optimizer`` objects (and data shapes)
    reuse one compilation; a new lambda compiles anew."""

    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj

    def __hash__(self):
        return id(self.obj)

    def __eq__(self, other):
        return isinstance(other, _Same) and other.obj is self.obj


@partial(jax.jit, static_argnums=(3, 4, 5))
def _run_epoch(state, epoch_key, train_data, loss_fn, optimizer, batch_size):
    """One epoch of shuffled mini-batches (the last incomplete one dropped) as one scan;
    returns the state and the mean training loss."""
    trainer = make_trainer(loss_fn.obj, optimizer.obj)
    n_train = _n_samples(train_data)
    n_batches = n_train // batch_size
    k_perm, k_steps = jax.random.split(epoch_key)
    perm = jax.random.permutation(k_perm, n_train)[: n_batches * batch_size]
    batches = jax.tree_util.tree_map(lambda a: a[perm].reshape((n_batches, batch_size) + a.shape[1:]), train_data)
    step_keys = jax.random.split(k_steps, n_batches)
    state, info = jax.lax.scan(lambda s, xs: trainer.step(s, xs[0], xs[1]), state, (batches, step_keys))
    return state, jnp.mean(info.loss)


@partial(jax.jit, static_argnums=(3, 4, 5))
def _val_loss(params, epoch_key, val_data, loss_fn, optimizer, batch_size):
    """Sample-weighted mean validation loss: full chunks of ``batch_size`` through
    ``lax.map``, the remainder as one smaller chunk."""
    evaluate = loss_fn.obj
    n_val = _n_samples(val_data)
    n_full, n_rest = divmod(n_val, batch_size)
    total = 0.0
    if n_full:
        chunks = jax.tree_util.tree_map(
            lambda a: a[: n_full * batch_size].reshape((n_full, batch_size) + a.shape[1:]), val_data
        )
        total = batch_size * jnp.sum(jax.lax.map(lambda c: evaluate(params, c, epoch_key), chunks))
    if n_rest:
        rest = jax.tree_util.tree_map(lambda a: a[n_full * batch_size :], val_data)
        total = total + n_rest * evaluate(params, rest, epoch_key)
    return total / n_val


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
    data : pytree of arrays with a common leading axis of N samples, all finite
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
        Smallest decrease of the validation loss that counts as an improvement (>= 0).
    progress : bool
        Show a tqdm progress bar.
    checkpoint_path : str or None
        File for checkpoints (written every ``checkpoint_every`` epochs and at the end, in
        the format of ``cosmojax.io.save_checkpoint``); its folder must exist.
    checkpoint_every : int
        Epochs between checkpoints.
    resume : bool
        When the checkpoint file exists, continue from it (ValueError if it is corrupted or
        from another problem: delete it or pass ``resume=False``).

    Returns
    -------
    FitResult. Not jit safe itself (it is the Python driver around jitted epochs).

    Raises
    ------
    FloatingPointError
        When the mean training loss of an epoch or the validation loss is NaN or infinite:
        training stops there instead of returning stale parameters. The checkpoint file,
        if any, keeps the last checkpoint written before it.
    ValueError
        For bad sizes, fractions or non-finite data, before any work.
    """
    n = _n_samples(data)
    n_epochs = check_int("n_epochs", n_epochs, 0)
    patience = check_int("patience", patience)
    check_int("checkpoint_every", checkpoint_every)
    if checkpoint_path is not None:
        checkpoint_path = io.check_output_path("checkpoint_path", checkpoint_path)
    if not (np.isfinite(min_delta) and min_delta >= 0):
        raise ValueError(f"min_delta must be finite and >= 0; got {min_delta!r}.")
    check_finite("data", data)
    key_split, key_train = jax.random.split(key)
    if val_data is None:
        if not 0.0 < val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in (0, 1); got {val_fraction}.")
        perm = np.asarray(jax.random.permutation(key_split, n))
        n_val = max(1, int(round(val_fraction * n)))
        val_data, train_data = _take(data, perm[:n_val]), _take(data, perm[n_val:])
    else:
        _n_samples(val_data)
        check_finite("val_data", val_data)
        train_data = data
    n_train = _n_samples(train_data)
    batch_size = check_int("batch_size", batch_size)
    if not batch_size <= n_train:
        raise ValueError(f"batch_size must be between 1 and the {n_train} training samples; got {batch_size}.")
    _n_samples(val_data)
    # on the device once, not at every epoch
    train_data, val_data = jax.tree_util.tree_map(jnp.asarray, (train_data, val_data))
    trainer = make_trainer(loss_fn, optimizer)
    same = (_Same(loss_fn), _Same(optimizer))

    def epoch(state, i):
        epoch_key = jax.random.fold_in(key_train, i)
        state, train = _run_epoch(state, epoch_key, train_data, *same, batch_size)
        return state, (train, _val_loss(state.params, jax.random.fold_in(epoch_key, 1), val_data, *same, batch_size))

    def bookkeeping(i, state, losses, aux):
        tl, vl = float(losses[0]), float(losses[1])
        _check_loss("training", tl, i, checkpoint_path)
        _check_loss("validation", vl, i, checkpoint_path)
        aux = dict(aux, train_loss=np.append(aux["train_loss"], tl), val_loss=np.append(aux["val_loss"], vl))
        if vl < aux["best_val"] - min_delta:
            aux.update(best_val=vl, best_epoch=i, best_params=state.params, wait=0)
        else:
            aux["wait"] += 1
        return aux, aux["wait"] >= patience, {"train": f"{tl:.4g}", "val": f"{vl:.4g}"}

    aux = {
        "best_params": params,
        "best_val": np.inf,
        "best_epoch": -1,
        "wait": 0,
        "train_loss": np.zeros(0),
        "val_loss": np.zeros(0),
    }
    loop = start_or_resume(checkpoint_path, trainer.init(params), aux, resume)
    loop = run_blocks(
        epoch, loop, n_epochs, callback=bookkeeping, progress=progress, desc="fit",
        checkpoint_path=checkpoint_path, checkpoint_every=checkpoint_every,
    )
    aux = loop.aux
    return FitResult(
        aux["best_params"], loop.state, np.asarray(aux["train_loss"], dtype=float),
        np.asarray(aux["val_loss"], dtype=float), int(aux["best_epoch"]), bool(loop.stopped),
    )
