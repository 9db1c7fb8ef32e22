"""Sources of IMNN summaries and their derivatives with respect to the parameters.

A ``SummarySource`` turns network parameters and a key into

- ``summaries``: ``(n_s, s)`` network outputs for simulations at the fiducial theta,
- ``derivatives``: ``(n_d, p, s)`` estimates of d summary / d theta,

in one of three ways:

``finite_differences(simulator, theta_fid, delta, n_s, n_d)``
    seed-matched simulations at theta +- delta_a e_a (the same key for the fiducial and both
    offset simulations, so most of the sample variance cancels), central differences;
``autodiff(simulator, theta_fid, n_s, n_d)``
    exact derivatives through a differentiable simulator with ``jax.jacfwd``;
``precomputed(fiducial, ...)``
    fixed data sets: fiducial simulations plus either offset simulations at theta +- delta
    or data derivatives d d / d theta (pushed through the network with a JVP).

``simulator(key, theta) -> data`` simulates one data set (any array shape) for a ``(p,)``
theta; the i-th simulation uses ``jax.random.fold_in(key, i)``, so each one is
reproducible alone. ``apply_fn(params, data) -> (s,)`` maps one data set to its summaries
(e.g. ``lambda w, d: model.apply(w, d[None])[0]``).

The simulation axis can be spread over devices: pass a mesh from
``cosmojax.parallel.device_mesh`` and the batch of simulations is sharded along its axis
with ``cosmojax.parallel.sharded_map`` (XLA then reduces means and covariances across
devices). ``chunk_size`` bounds memory by running that many simulations at a time.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from cosmojax._validate import check_finite, check_int, check_positive
from cosmojax.parallel import AXIS, shard_leading, sharded_map

#: The mesh axis the simulations are sharded over: the one axis of ``cosmojax.parallel``.
SIM_AXIS = AXIS


class SummarySource(NamedTuple):
    """Summaries and derivatives on demand.

    n_s, n_d, n_params : ints (static sizes)
    compute : ``(apply_fn, params, key, mesh) -> (summaries (n_s, s), derivatives (n_d, p, s))``
    """

    n_s: int
    n_d: int
    n_params: int
    compute: Callable


def _sim_indices(n, mesh):
    return shard_leading(jnp.arange(n, dtype=jnp.uint32), mesh)


def _check_counts(n_s, n_d, chunk_size=None):
    """Whole-number simulation counts (2 <= n_s, 1 <= n_d <= n_s) and a chunk size dividing both."""
    n_s = check_int("n_s", n_s, 2)  # a covariance needs two simulations
    n_d = check_int("n_d", n_d, 1)
    if n_d > n_s:
        raise ValueError(f"n_d must satisfy 1 <= n_d <= n_s = {n_s}; got {n_d}.")
    chunk_size = check_int("chunk_size", chunk_size, 1, allow_none=True)
    if chunk_size is not None and any(n > chunk_size and n % chunk_size for n in (n_s, n_d)):
        raise ValueError(f"chunk_size must divide n_s = {n_s} and n_d = {n_d} (or be None); got {chunk_size}.")
    return n_s, n_d, chunk_size


def finite_differences(
    simulator: Callable, theta_fid, delta, n_s: int, n_d: int | None = None, chunk_size: int | None = None
) -> SummarySource:
    """Seed-matched central finite differences.

    Parameters
    ----------
    simulator : ``(key, theta (p,)) -> data``
    theta_fid : (p,) array, parameter units
    delta : (p,) array or float, offsets in parameter units (> 0)
    n_s, n_d : fiducial and derivative simulation counts (n_d <= n_s; the derivative
        simulations reuse the keys of the first n_d fiducial ones)
    chunk_size : simulations per vmapped chunk (must divide n_s and n_d), or None

    The derivative of simulation i for parameter a is
    ``(f(sim(k_i, theta + delta_a e_a)) - f(sim(k_i, theta - delta_a e_a))) / (2 delta_a)``.
    Differentiable with respect to the network parameters.
    Returns a SummarySource whose ``compute`` is jit safe.
    """
    theta_fid = jnp.atleast_1d(jnp.asarray(theta_fid, dtype=jnp.result_type(float)))
    check_finite("theta_fid", theta_fid)
    delta = jnp.broadcast_to(jnp.asarray(delta, dtype=theta_fid.dtype), theta_fid.shape)
    check_positive("delta", delta)
    n_d = n_s if n_d is None else n_d
    n_s, n_d, chunk_size = _check_counts(n_s, n_d, chunk_size)
    p = theta_fid.shape[0]
    offsets = jnp.eye(p, dtype=theta_fid.dtype) * delta[:, None]  # (p, p)

    def compute(apply_fn, params, key, mesh=None):
        def fid(i):
            return apply_fn(params, simulator(jax.random.fold_in(key, i), theta_fid))

        def deriv(i):
            k = jax.random.fold_in(key, i)
            f = lambda th: apply_fn(params, simulator(k, th))  # noqa: E731
            plus = jax.vmap(f)(theta_fid + offsets)
            minus = jax.vmap(f)(theta_fid - offsets)
            return (plus - minus) / (2.0 * delta[:, None])

        x = sharded_map(fid, _sim_indices(n_s, mesh), mesh, chunk_size)
        dx = sharded_map(deriv, _sim_indices(n_d, mesh), mesh, chunk_size)
        return x, dx

    return SummarySource(int(n_s), int(n_d), p, compute)


def autodiff(simulator: Callable, theta_fid, n_s: int, n_d: int | None = None, chunk_size: int | None = None):
    """Exact derivatives through a differentiable simulator (forward mode, ``jax.jacfwd``).

    Parameters as in ``finite_differences`` without ``delta``; ``simulator`` must be
    differentiable in theta. The derivative for simulation i is
    ``jacfwd(lambda th: f(sim(k_i, th)))(theta_fid)`` transposed to ``(p, s)``.
    Returns a SummarySource whose ``compute`` is jit safe and differentiable with respect to the
    network parameters.
    """
    theta_fid = jnp.atleast_1d(jnp.asarray(theta_fid, dtype=jnp.result_type(float)))
    check_finite("theta_fid", theta_fid)
    n_d = n_s if n_d is None else n_d
    n_s, n_d, chunk_size = _check_counts(n_s, n_d, chunk_size)

    def compute(apply_fn, params, key, mesh=None):
        def fid(i):
            return apply_fn(params, simulator(jax.random.fold_in(key, i), theta_fid))

        def deriv(i):
            k = jax.random.fold_in(key, i)
            return jax.jacfwd(lambda th: apply_fn(params, simulator(k, th)))(theta_fid).T

        x = sharded_map(fid, _sim_indices(n_s, mesh), mesh, chunk_size)
        dx = sharded_map(deriv, _sim_indices(n_d, mesh), mesh, chunk_size)
        return x, dx

    return SummarySource(int(n_s), int(n_d), theta_fid.shape[0], compute)


def precomputed(
    fiducial,
    *,
    plus=None,
    minus=None,
    delta=None,
    data_derivatives=None,
    chunk_size: int | None = None,
) -> SummarySource:
    """Fixed data sets instead of a simulator (the key is ignored).

    Parameters
    ----------
    fiducial : (n_s, ...) array, simulations at theta_fid
    plus, minus : (n_d, p, ...) arrays, seed-matched simulations at theta_fid +- delta_a e_a
    delta : (p,) array or float, the offsets used for ``plus``/``minus``
    data_derivatives : (n_d, p, ...) array, d data / d theta_a (instead of plus/minus)
    chunk_size : simulations per vmapped chunk, or None
    Returns a SummarySource whose ``compute`` is jit safe and differentiable with respect to the
    network parameters.
    """
    fiducial = jnp.asarray(fiducial)
    check_finite("fiducial", fiducial)
    n_s = fiducial.shape[0]
    data_shape = fiducial.shape[1:]
    if data_derivatives is not None:
        if plus is not None or minus is not None:
            raise ValueError("give either data_derivatives or plus/minus simulations, not both.")
        data_derivatives = jnp.asarray(data_derivatives)
        if data_derivatives.ndim != fiducial.ndim + 1 or data_derivatives.shape[2:] != data_shape:
            raise ValueError(
                f"data_derivatives must have shape (n_d, p, *{data_shape}); got {data_derivatives.shape}."
            )
        check_finite("data_derivatives", data_derivatives)
        n_d, p = data_derivatives.shape[:2]
    else:
        if plus is None or minus is None or delta is None:
            raise ValueError("precomputed needs data_derivatives, or plus, minus and delta.")
        plus, minus = jnp.asarray(plus), jnp.asarray(minus)
        if plus.shape != minus.shape or plus.ndim != fiducial.ndim + 1 or plus.shape[2:] != data_shape:
            raise ValueError(f"plus and minus must both have shape (n_d, p, *{data_shape}); got {plus.shape}, {minus.shape}.")
        n_d, p = plus.shape[:2]
        delta = jnp.broadcast_to(jnp.asarray(delta, dtype=plus.dtype), (p,))
        check_positive("delta", delta)
    n_s, n_d, chunk_size = _check_counts(n_s, n_d, chunk_size)

    def compute(apply_fn, params, key, mesh=None):
        del key
        f = lambda d: apply_fn(params, d)  # noqa: E731
        x = sharded_map(f, fiducial, mesh, chunk_size)
        if data_derivatives is not None:

            def deriv(args):
                d, dd = args
                return jax.vmap(lambda t: jax.jvp(f, (d,), (t,))[1])(dd)

            dx = sharded_map(deriv, (fiducial[:n_d], data_derivatives), mesh, chunk_size)
        else:

            def deriv(args):
                dp, dm = args
                return (jax.vmap(f)(dp) - jax.vmap(f)(dm)) / (2.0 * delta[:, None])

            dx = sharded_map(deriv, (plus, minus), mesh, chunk_size)
        return x, dx

    return SummarySource(int(n_s), int(n_d), int(p), compute)


def simulate_dataset(key, simulator: Callable, theta_fid, n_s: int, n_d: int = 0, delta=None):
    """Simulate fixed data sets for ``precomputed`` with the same seeds a simulator source uses.

    Returns ``fiducial`` ``(n_s, ...)`` and, when ``n_d > 0`` and ``delta`` is given, ``plus``
    and ``minus`` ``(n_d, p, ...)`` seed-matched offset simulations (else None). jit safe.
    """
    n_s = check_int("n_s", n_s, 1)
    n_d = check_int("n_d", n_d, 0)
    theta_fid = jnp.atleast_1d(jnp.asarray(theta_fid, dtype=jnp.result_type(float)))
    keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(n_s, dtype=jnp.uint32))
    fiducial = jax.vmap(simulator, in_axes=(0, None))(keys, theta_fid)
    if n_d == 0 or delta is None:
        return fiducial, None, None
    p = theta_fid.shape[0]
    offsets = jnp.eye(p, dtype=theta_fid.dtype) * jnp.broadcast_to(jnp.asarray(delta, theta_fid.dtype), (p,))[:, None]
    sim_all = jax.vmap(jax.vmap(simulator, in_axes=(None, 0)), in_axes=(0, None))
    return fiducial, sim_all(keys[:n_d], theta_fid + offsets), sim_all(keys[:n_d], theta_fid - offsets)

