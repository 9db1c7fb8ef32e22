"""IMNN benchmark: the Gaussian-variance toy to convergence, and CNN-IMNN steps/s on 64^2 fields.

Prints JSON lines:

- ``{"record": "machine", ...}``: host, CPU count, JAX backend and devices, versions;
- ``{"record": "variance_toy", ...}``: final Fisher information of the toy of Charnock et al.
  2018 (10 points from N(0, theta), theta_fid = 1, analytic F = 5) measured on fresh
  simulations, and the training seconds (compilation included, evaluation excluded) and
  steps needed to get within 5% of 5;
- ``{"record": "cnn_imnn_64", ...}``: optimiser steps per second of an IMNN with a CNN on
  64 x 64 Gaussian random fields simulated on the fly, derivatives by autodiff.

Run ``python benchmarks/bench_imnn.py --quick`` for small sizes (the toy still trains to
convergence). There is no peer code here: the reference ``imnn`` package does not import with
current JAX.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import cosmojax
from cosmojax import mesh
from cosmojax.imnn import autodiff, imnn, precomputed, simulate_dataset
from cosmojax.nn import CNN, DeepSets


def emit(record: dict) -> None:
    print(json.dumps(record), flush=True)


def machine_record() -> dict:
    return {
        "record": "machine",
        "host": platform.node(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "jax": jax.__version__,
        "cosmojax": cosmojax.__version__,
    }


def variance_sim(key, theta):
    return jnp.sqrt(theta[0]) * jax.random.normal(key, (10,))


def run_variance_toy(key, n_s: int, n_steps: int, block: int, n_eval: int) -> dict:
    """Train the toy IMNN on a fixed set of ``n_s`` simulations; F on ``n_eval`` fresh ones."""
    theta = jnp.array([1.0])
    k_data, k_eval = jax.random.split(key)
    fid, _, _ = simulate_dataset(k_data, variance_sim, theta, n_s)
    keys = jax.vmap(lambda i: jax.random.fold_in(k_data, i))(jnp.arange(n_s, dtype=jnp.uint32))
    dd = jax.vmap(lambda k: jnp.moveaxis(jax.jacfwd(lambda t: variance_sim(k, t))(theta), -1, 0))(keys)
    model_net = DeepSets((32, 32, 8), (1,), activation="gelu")
    params = model_net.init(jax.random.key(1), jnp.zeros((1, 10, 2)))

    def apply_fn(w, d):
        return model_net.apply(w, jnp.stack([d, d**2], -1)[None])[0]

    model = imnn(apply_fn, optax.adam(optax.cosine_decay_schedule(1e-2, n_steps)), precomputed(fid, data_derivatives=dd))
    evaluation = autodiff(variance_sim, theta, n_eval)
    run_block = jax.jit(lambda s, ks: jax.lax.scan(model.step, s, ks))
    fisher = jax.jit(lambda p: model.fisher(p, k_eval, evaluation).F[0, 0])

    state = model.init(params)
    train_seconds, reached_seconds, reached_steps, F = 0.0, None, None, float("nan")
    for start in range(0, n_steps, block):
        step_keys = jax.random.split(jax.random.fold_in(key, start), block)
        t0 = time.perf_counter()
        state, info = run_block(state, step_keys)
        jax.block_until_ready(info.loss)
        train_seconds += time.perf_counter() - t0
        F = float(fisher(state.params))
        if reached_seconds is None and abs(F - 5.0) < 0.25:
            reached_seconds, reached_steps = train_seconds, start + block
    return {
        "record": "variance_toy",
        "n_s": n_s,
        "n_steps": n_steps,
        "n_eval": n_eval,
        "analytic_fisher": 5.0,
        "final_fisher": F,
        "seconds_to_within_5pct": reached_seconds,
        "steps_to_within_5pct": reached_steps,
        "train_seconds_total": train_seconds,
    }


def run_cnn_imnn(key, size: int, n_s: int, n_timed: int) -> dict:
    """Steps per second of a CNN IMNN on ``size``^2 Gaussian fields with P(k) = A k^n."""
    shape, box = (size, size), 2.0 * np.pi * size / 8.0  # k from 0.125 to ~1.4 h/Mpc
    cell_volume = box**2 / size**2

    def field_sim(k, theta):
        kmag = mesh.rfftn_kmag(shape, box)
        amp = jnp.sqrt(theta[0]) * jnp.where(kmag > 0, kmag, 1.0) ** (0.5 * theta[1]) * (kmag > 0)
        noise = jnp.fft.rfftn(jax.random.normal(k, shape))
        return jnp.fft.irfftn(noise * amp / np.sqrt(cell_volume), s=shape)[..., None]

    net = CNN(features=(8, 16, 32), out_features=2, pooling="avg", dense=(64,), global_pool=True)
    params = net.init(jax.random.key(3), jnp.zeros((1,) + shape + (1,)))
    n_params = int(sum(x.size for x in jax.tree_util.tree_leaves(params)))
    model = imnn(
        lambda w, d: net.apply(w, d[None])[0],
        optax.adam(1e-3),
        autodiff(field_sim, jnp.array([1.0, -1.5]), n_s),
    )
    step = jax.jit(model.step)
    state = model.init(params)
    t0 = time.perf_counter()
    state, info = step(state, jax.random.fold_in(key, 0))
    jax.block_until_ready(info.loss)
    compile_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(n_timed):
        state, info = step(state, jax.random.fold_in(key, i + 1))
    jax.block_until_ready(info.loss)
    seconds = time.perf_counter() - t0
    return {
        "record": "cnn_imnn_64" if size == 64 else f"cnn_imnn_{size}",
        "field_shape": list(shape),
        "n_s": n_s,
        "n_d": n_s,
        "network_params": n_params,
        "compile_seconds": compile_seconds,
        "timed_steps": n_timed,
        "steps_per_second": n_timed / seconds,
        "fields_per_second": n_timed * n_s * 3 / seconds,  # fiducial + 2 jvp directions
        "final_loss": float(info.loss),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (the toy still converges)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    key = jax.random.key(args.seed)
    emit(machine_record())
    if args.quick:
        emit(run_variance_toy(jax.random.fold_in(key, 1), n_s=2000, n_steps=300, block=25, n_eval=10000))
        emit(run_cnn_imnn(jax.random.fold_in(key, 2), size=64, n_s=16, n_timed=3))
    else:
        emit(run_variance_toy(jax.random.fold_in(key, 1), n_s=5000, n_steps=1000, block=25, n_eval=50000))
        emit(run_cnn_imnn(jax.random.fold_in(key, 2), size=64, n_s=256, n_timed=20))


if __name__ == "__main__":
    main()
