"""Shared helpers for the benchmarks: machine description, timing, JSON lines."""

from __future__ import annotations

import json
import os
import platform
import resource
import sys
import time


def machine() -> dict:
    """The machine, JAX backend and devices the numbers were taken on."""
    import jax

    devices = jax.devices()
    return {
        "host": platform.node(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "devices": [d.device_kind for d in devices],
    }


def emit(record: dict) -> None:
    """Print one JSON line and flush, so partial results survive an interruption."""
    print(json.dumps(record, default=float), flush=True)


def best_time(fn, *, repeat: int = 5, warmup: int = 1) -> float:
    """Best wall time of ``fn()`` in seconds over ``repeat`` runs, after ``warmup`` runs.

    ``fn`` must block until its result is ready (call ``.block_until_ready()``).
    """
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def peak_memory_bytes() -> int:
    """Peak memory: the accelerator's peak bytes in use, or the process's peak RSS on CPU."""
    import jax

    stats = jax.devices()[0].memory_stats() if jax.default_backend() != "cpu" else None
    if stats and "peak_bytes_in_use" in stats:
        return int(stats["peak_bytes_in_use"])
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)
