"""Shared fixtures: a PRNG key per test and a float64 context for exactness tests."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")

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
