"""Argument checks at the API boundary."""

import jax
import numpy as np
import pytest

from cosmojax._validate import check_int, check_positive, check_symmetric_positive_definite


def test_check_int_accepts_whole_numbers_and_names_the_argument():
    assert check_int("steps", 3) == 3
    assert check_int("steps", np.int64(4)) == 4
    assert check_int("steps", 5.0) == 5
    assert check_int("lmax", 0, 0) == 0
    assert check_int("chunk_size", None, allow_none=True) is None
    for bad in (0, -2, 2.5, "3", True, None):
        with pytest.raises(ValueError, match="steps must be an integer >= 1"):
            check_int("steps", bad)
    with pytest.raises(ValueError, match="n_s must be an integer >= 2"):
        check_int("n_s", 1, 2)
    with pytest.raises(ValueError, match="or None"):
        check_int("chunk_size", 0, allow_none=True)


def test_check_positive_skips_tracers():
    with pytest.raises(ValueError, match="lam must be > 0"):
        check_positive("lam", -1.0)
    check_positive("lam", 0.0, strict=False)
    jax.jit(lambda x: check_positive("x", x) or x)(-1.0)  # traced: unknown value, not checked


def test_symmetric_positive_definite_check():
    check_symmetric_positive_definite("m", np.array([[2.0, 0.5], [0.5, 1.0]]))
    for bad, match in ((np.array([[1.0, 0.5], [0.0, 1.0]]), "m must be symmetric positive definite"),
                       (np.array([[1.0, 2.0], [2.0, 1.0]]), "m must be symmetric positive definite"),
                       (np.array([[1.0, np.nan], [np.nan, 1.0]]), "m contains NaN")):
        with pytest.raises(ValueError, match=match):
            check_symmetric_positive_definite("m", bad)
    # skipped on tracers, so it can sit inside jit
    assert float(jax.jit(lambda m: (check_symmetric_positive_definite("m", m), m.sum())[1])(-np.eye(2))) == -2.0


def test_check_mesh_shape_refuses_rather_than_truncates():
    from cosmojax._validate import check_mesh_shape

    assert check_mesh_shape("mesh_shape", (8, 8.0, np.int64(8))) == (8, 8, 8)
    for bad in ((8.5, 8, 8), ("8", 8, 8), (True, 8), (1, 8), (8, 8, 8 + 0j)):
        with pytest.raises(ValueError, match=r"mesh_shape\[\d\] must be an integer >= 2"):
            check_mesh_shape("mesh_shape", bad)
    for bad in (8, "888", None):
        with pytest.raises(ValueError, match="mesh_shape must be a tuple of ints"):
            check_mesh_shape("mesh_shape", bad)
    with pytest.raises(ValueError, match="mesh_shape must have 2 or 3 entries"):
        check_mesh_shape("mesh_shape", (8, 8, 8, 8))


def test_check_key_accepts_keys_and_refuses_seeds():
    from cosmojax._validate import check_key

    check_key("key", jax.random.key(0))
    check_key("key", jax.random.PRNGKey(0))
    jax.jit(lambda k: check_key("key", k) or jax.random.normal(k))(jax.random.key(1))
    jax.vmap(lambda k: check_key("key", k) or jax.random.normal(k))(jax.random.split(jax.random.key(1), 3))
    for bad in (0, np.int64(3), 1.5, "seed", np.zeros(2, np.float32), np.zeros(3, np.uint32)):
        with pytest.raises(TypeError, match=r"key must be a JAX PRNG key.*jax.random.key\(seed\)"):
            check_key("key", bad)
    with pytest.raises(TypeError, match="key must be a single PRNG key"):
        check_key("key", jax.random.split(jax.random.key(0), 2))
    with pytest.raises(TypeError, match="integer"):  # a traced integer is refused too
        jax.jit(lambda s: check_key("key", s))(3)


def test_check_real_refuses_complex_strings_and_booleans():
    from cosmojax._validate import check_real

    check_real("x", 1.0)
    check_real("x", [1, 2.5])
    check_real("x", np.float32(1.0))
    check_real("x", {"a": np.ones(3), "b": 2})
    jax.jit(lambda x: check_real("x", x) or x)(np.ones(2))
    with pytest.raises(TypeError, match="x must be real; got complex"):
        check_real("x", 1 + 2j)
    with pytest.raises(TypeError, match="x must be real; got complex"):
        jax.jit(lambda x: check_real("x", x) or x)(np.ones(2, complex))
    for bad in ("1.0", True, np.array([True]), jax.random.key(0)):
        with pytest.raises(TypeError, match="x must be a real number or array"):
            check_real("x", bad)


def test_nan_unless_poisons_values_and_gradients():
    import jax.numpy as jnp

    from cosmojax._validate import nan_unless

    out = nan_unless(jnp.array([True, False]), jnp.array([2.0, 0.0]))
    assert out[0] == 2.0 and np.isnan(out[1])
    assert jax.grad(lambda x: nan_unless(True, x) ** 2)(3.0) == 6.0
    assert np.isnan(jax.grad(lambda x: nan_unless(False, x))(3.0))  # linear: still NaN
    assert nan_unless(True, 3).dtype == jnp.result_type(float)


def test_positive_or_nan_raises_eagerly_and_poisons_traced_values():
    import jax.numpy as jnp

    from cosmojax._validate import positive_or_nan

    assert positive_or_nan("a", 0.5) == 0.5
    for bad in (0.0, -1.0, np.array([1.0, np.nan])):
        with pytest.raises(ValueError, match="a must be > 0|a contains NaN"):
            positive_or_nan("a", bad)
    assert positive_or_nan("a", 0.0, strict=False) == 0.0
    with pytest.raises(TypeError, match="a must be real"):
        positive_or_nan("a", 1j)
    out = jax.jit(lambda x: positive_or_nan("a", x))(jnp.array([0.5, 0.0, -1.0, jnp.inf]))
    assert out[0] == 0.5 and np.all(np.isnan(out[1:]))
    out = jax.jit(lambda x: positive_or_nan("a", x, strict=False))(jnp.array([0.0, -1.0]))
    assert out[0] == 0.0 and np.isnan(out[1])
