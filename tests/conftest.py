"""Shared fixtures: a PRNG key per test and a float64 context for exactness tests."""

import os
import shutil
import tempfile

os.environ.setdefault("MPLBACKEND", "Agg")
# One persistent compilation cache per test run, shared by the workers and the subprocesses
# they start (benchmarks, the command line, notebook kernels): a program compiled once (the
# same particle-mesh step in several tests, say) is read back instead of compiled again.
# The process that starts the run makes a fresh, empty folder (workers inherit it through
# the environment) and removes it at the end, so nothing compiled from other code is reused.
_CACHE = None
if "PYTEST_XDIST_WORKER" not in os.environ and "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    _CACHE = tempfile.mkdtemp(prefix="cosmojax-tests-jax-cache-")
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _CACHE
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

import jax
import pytest


@pytest.fixture
def key(request):
    """A key derived from the test's name, so each test is reproducible on its own."""
    name = request.node.nodeid.encode()
    return jax.random.key(sum(name) % (2**31))


@pytest.fixture
def x64():
    """Run the test with ``jax_enable_x64`` on (float64 arrays by default)."""
    with jax.enable_x64(True):
        yield


def pytest_unconfigure(config):
    if _CACHE is not None:
        shutil.rmtree(_CACHE, ignore_errors=True)
