"""Tests for cosmojax.nn.training: (init, step) purity, fit on a real task, early stopping,
determinism under a key, bit-identical resume from a checkpoint, and a NaN loss stopping
training with an error."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from cosmojax.nn import MLP, fit, load_checkpoint, make_trainer, save_checkpoint, training


def _problem(key, n=512):
    """Regress y = sin(3 x) + 0.05 noise with a small MLP."""
    kx, kn = jax.random.split(key)
    x = jax.random.uniform(kx, (n, 1), minval=-1.0, maxval=1.0)
    y = jnp.sin(3 * x) + 0.05 * jax.random.normal(kn, x.shape)
    model = MLP((32, 32, 1), "tanh")
    params = model.init(jax.random.key(0), x[:1])

    def loss_fn(p, batch, key):
        xb, yb = batch
        return jnp.mean((model.apply(p, xb) - yb) ** 2)

    return (x, y), params, loss_fn


def test_make_trainer_step_is_pure_and_jittable(key):
    data, params, loss_fn = _problem(key, 64)
    trainer = make_trainer(loss_fn, optax.sgd(0.1))
    state = trainer.init(params)
    step = jax.jit(trainer.step)
    s1, info1 = step(state, data, key)
    s2, info2 = step(state, data, key)
    assert int(s1.step) == 1
    for a, b in zip(jax.tree_util.tree_leaves(s1.params), jax.tree_util.tree_leaves(s2.params)):
        np.testing.assert_array_equal(a, b)
    # plain SGD: new = old - 0.1 * grad
    g = jax.grad(loss_fn)(params, data, key)
    expect = jax.tree_util.tree_map(lambda p, gg: p - 0.1 * gg, params, g)
    for a, b in zip(jax.tree_util.tree_leaves(s1.params), jax.tree_util.tree_leaves(expect)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(info1.loss, loss_fn(params, data, key), rtol=1e-6)


def test_fit_learns_resumes_identically_and_stops(key, tmp_path):
    data, params, loss_fn = _problem(key)
    opt = optax.adam(1e-2)
    kwargs = dict(batch_size=64, val_fraction=0.25, patience=100, progress=False)
    full = fit(key, loss_fn, params, data, opt, n_epochs=30, **kwargs)
    assert full.val_loss.shape == (30,) and not full.stopped_early
    assert full.val_loss[full.best_epoch] == full.val_loss.min()
    assert full.val_loss.min() < 0.05 * full.val_loss[0] + 0.01 and full.val_loss.min() < 0.02
    # same key, same result, and the same loss_fn and optimizer reuse the compiled epoch
    compiled = training._run_epoch._cache_size()
    again = fit(key, loss_fn, params, data, opt, n_epochs=30, **kwargs)
    np.testing.assert_array_equal(full.val_loss, again.val_loss)
    assert training._run_epoch._cache_size() == compiled
    # interrupted after 12 epochs, resumed to 30: bit-identical to the uninterrupted run
    path = str(tmp_path / "ckpt.msgpack")
    fit(key, loss_fn, params, data, opt, n_epochs=12, checkpoint_path=path, **kwargs)
    resumed = fit(key, loss_fn, params, data, opt, n_epochs=30, checkpoint_path=path, **kwargs)
    np.testing.assert_array_equal(resumed.train_loss, full.train_loss)
    for a, b in zip(jax.tree_util.tree_leaves(resumed.params), jax.tree_util.tree_leaves(full.params)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # a zero learning rate never improves after epoch 0: stop after `patience` more epochs
    frozen = fit(key, loss_fn, params, data, optax.sgd(0.0), n_epochs=50, batch_size=64, patience=3, progress=False)
    assert frozen.stopped_early and frozen.best_epoch == 0 and frozen.val_loss.shape == (4,)


def test_checkpoint_round_trip_and_bad_input(key, tmp_path):
    tree = {"a": jnp.arange(3.0), "b": (jnp.ones((2, 2)), 7), "c": np.array([1.5, 2.5])}
    path = str(tmp_path / "t.ckpt")
    # the old names still work, with a DeprecationWarning naming the new home
    with pytest.warns(DeprecationWarning, match="cosmojax.io.save_checkpoint"):
        save_checkpoint(path, tree)
    with pytest.warns(DeprecationWarning, match="cosmojax.io.load_checkpoint"):
        back = load_checkpoint(path, {"a": jnp.zeros(3), "b": (jnp.zeros((2, 2)), 0), "c": np.zeros(0)})
    np.testing.assert_array_equal(back["a"], tree["a"])
    assert back["b"][1] == 7
    np.testing.assert_array_equal(back["c"], tree["c"])
    data, params, loss_fn = _problem(key, 32)
    with pytest.raises(ValueError, match="leading"):
        fit(key, loss_fn, params, (data[0], data[1][:5]), optax.sgd(0.1), progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        fit(key, loss_fn, params, data, optax.sgd(0.1), batch_size=1000, progress=False)
    with pytest.raises(ValueError, match="data contains NaN"):
        fit(key, loss_fn, params, (data[0].at[3, 0].set(jnp.nan), data[1]), optax.sgd(0.1), progress=False)
    with pytest.raises(ValueError, match="checkpoint_path .* does not exist; create it first"):
        fit(key, loss_fn, params, data, optax.sgd(0.1), batch_size=8, progress=False, checkpoint_path=str(tmp_path / "no" / "c"))
    with pytest.raises(ValueError, match="patience must be an integer >= 1"):
        fit(key, loss_fn, params, data, optax.sgd(0.1), batch_size=8, progress=False, patience=0)


def test_nan_loss_stops_fit_with_an_error(key, tmp_path):
    """A learning rate that blows the loss up after three good epochs raises instead of
    returning stale parameters; the checkpoint keeps the three finite epochs."""
    data, params, loss_fn = _problem(key, 256)  # 204 training samples: 6 batches of 32 per epoch
    blow_up = optax.sgd(optax.piecewise_constant_schedule(1e-2, {18: 1e6}))
    path = str(tmp_path / "nan.ckpt")
    kwargs = dict(batch_size=32, n_epochs=20, patience=100, progress=False, checkpoint_path=path)
    with pytest.raises(FloatingPointError, match=r"training loss is (nan|inf) at epoch 3.*Lower the learning rate") as err:
        fit(key, loss_fn, params, data, blow_up, **kwargs)
    assert path in str(err.value)
    # the file holds epochs 0-2: resuming runs epoch 3 again (and fails again, rather than
    # resuming from a NaN state), and fit with those 3 epochs only completes from the file
    with pytest.raises(FloatingPointError, match="at epoch 3"):
        fit(key, loss_fn, params, data, blow_up, **kwargs)
    done = fit(key, loss_fn, params, data, blow_up, **dict(kwargs, n_epochs=3))
    assert done.train_loss.shape == (3,) and np.all(np.isfinite(done.train_loss))

    # NaN for some batches only (bad labels): caught through the epoch mean
    def nan_loss(p, batch, k):
        return jnp.where(jnp.any(batch[1] > 0.9), jnp.nan, loss_fn(p, batch, k))

    with pytest.raises(FloatingPointError, match="training loss is nan at epoch 0"):
        fit(key, nan_loss, params, data, optax.adam(1e-3), batch_size=32, n_epochs=3, progress=False)

    # finite training loss, NaN validation loss (inputs outside the training range)
    def val_nan(p, batch, k):
        return jnp.where(jnp.any(batch[0] > 5.0), jnp.nan, loss_fn(p, batch, k))

    val = (data[0][:16] + 10.0, data[1][:16])
    with pytest.raises(FloatingPointError, match="validation loss is nan at epoch 0"):
        fit(key, val_nan, params, data, optax.adam(1e-3), val_data=val, batch_size=32, n_epochs=3, progress=False)
