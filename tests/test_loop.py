"""Tests for the loop driver shared by training and sampling (cosmojax._loop)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cosmojax._loop import LoopState, run_blocks, start_or_resume
from cosmojax.io import load_checkpoint, save_checkpoint

KEY = jax.random.key(11)


@jax.jit
def _walk(state, i):
    """A random walk of four steps per block; block i draws from fold_in(KEY, i)."""
    steps = jax.random.normal(jax.random.fold_in(KEY, i), (4,))
    path = state + jnp.cumsum(steps)
    return path[-1], path


def _record(i, state, out, aux):
    return {"last": np.append(aux["last"], float(out[-1])), "blocks_seen": aux["blocks_seen"] + 1}, False, None


def _aux():
    return {"last": np.zeros(0), "blocks_seen": 0}


def test_blocks_run_in_order_with_their_index_and_match_a_plain_loop():
    loop = run_blocks(_walk, LoopState(jnp.zeros(()), _aux()), 6, callback=_record, progress=False)
    state, expect = jnp.zeros(()), []
    for i in range(6):
        state, path = _walk(state, i)
        expect.append(float(path[-1]))
    assert loop.blocks == 6 and not loop.stopped and loop.aux["blocks_seen"] == 6
    np.testing.assert_array_equal(loop.aux["last"], expect)
    assert float(loop.state) == expect[-1]


def test_resumed_loop_equals_uninterrupted_and_checkpoints_every_k(tmp_path):
    path = tmp_path / "walk.ckpt"
    whole = run_blocks(_walk, LoopState(jnp.zeros(()), _aux()), 9, callback=_record, progress=False)
    written = []

    def spy(i, state, out, aux):
        written.append(path.exists() and load_checkpoint(path, {"state": jnp.zeros(()), "aux": _aux(), "blocks": 0,
                                                                "stopped": False})["blocks"])
        return _record(i, state, out, aux)

    first = run_blocks(_walk, start_or_resume(path, jnp.zeros(()), _aux()), 5, callback=spy, progress=False,
                       checkpoint_path=path, checkpoint_every=2)
    # before blocks 0..4 the file held: nothing, nothing, 2, 2, 4; the last block is always saved
    assert written == [False, False, 2, 2, 4] and first.blocks == 5
    resumed = start_or_resume(path, jnp.zeros(()), _aux())
    assert resumed.blocks == 5 and resumed.aux["blocks_seen"] == 5
    np.testing.assert_array_equal(resumed.aux["last"], first.aux["last"])
    done = run_blocks(_walk, resumed, 9, callback=_record, progress=False, checkpoint_path=path, checkpoint_every=2)
    np.testing.assert_array_equal(done.aux["last"], whole.aux["last"])
    assert float(done.state) == float(whole.state)
    # resume=False starts afresh even though the file exists
    assert start_or_resume(path, jnp.zeros(()), _aux(), resume=False).blocks == 0
    # a finished loop asked for fewer blocks does nothing
    again = run_blocks(_walk, start_or_resume(path, jnp.zeros(()), _aux()), 3, callback=_record, progress=False)
    assert again.blocks == 9 and float(again.state) == float(whole.state)


def test_callback_stops_the_loop_and_the_stop_is_saved(tmp_path):
    path = tmp_path / "stop.ckpt"

    def stop_at_three(i, state, out, aux):
        aux, _, _ = _record(i, state, out, aux)
        return aux, i == 2, {"i": i}

    loop = run_blocks(_walk, start_or_resume(path, jnp.zeros(()), _aux()), 100, callback=stop_at_three, progress=True,
                      checkpoint_path=path, checkpoint_every=50)
    assert loop.stopped and loop.blocks == 3
    resumed = start_or_resume(path, jnp.zeros(()), _aux())
    assert resumed.stopped and resumed.blocks == 3  # saved at the stop although 3 % 50 != 0
    after = run_blocks(_walk, resumed, 100, callback=stop_at_three, progress=False)
    assert after.blocks == 3  # a stopped loop stays stopped


def test_an_error_in_the_callback_keeps_the_last_checkpoint(tmp_path):
    path = tmp_path / "err.ckpt"

    def fail_at_four(i, state, out, aux):
        if i == 4:
            raise FloatingPointError("loss is nan")
        return _record(i, state, out, aux)

    with pytest.raises(FloatingPointError, match="loss is nan"):
        run_blocks(_walk, start_or_resume(path, jnp.zeros(()), _aux()), 10, callback=fail_at_four, progress=False,
                   checkpoint_path=path)
    assert start_or_resume(path, jnp.zeros(()), _aux()).blocks == 4


def test_bad_settings_and_bad_checkpoints_raise(tmp_path):
    loop = LoopState(jnp.zeros(()), _aux())
    with pytest.raises(ValueError, match="n_blocks must be an integer >= 0"):
        run_blocks(_walk, loop, -1, progress=False)
    with pytest.raises(ValueError, match="checkpoint_every must be an integer >= 1"):
        run_blocks(_walk, loop, 2, progress=False, checkpoint_every=0)
    with pytest.raises(ValueError, match="checkpoint_path .* does not exist; create it first"):
        start_or_resume(tmp_path / "missing" / "x.ckpt", jnp.zeros(()), _aux())
    path = tmp_path / "other.ckpt"
    save_checkpoint(path, {"something": np.zeros(3)})
    with pytest.raises(ValueError, match="different structure.*delete it or pass resume=False"):
        start_or_resume(path, jnp.zeros(()), _aux())
    path.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a cosmojax checkpoint"):
        start_or_resume(path, jnp.zeros(()), _aux())
    assert start_or_resume(path, jnp.zeros(()), _aux(), resume=False).blocks == 0


def test_callback_may_restart_the_state_and_the_checkpoint_holds_the_restart(tmp_path):
    """A callback returning a fourth element continues from that state (the field sampler
    restarts its chains there with a retuned preconditioner)."""
    path = tmp_path / "restart.ckpt"

    def reset_after_two(i, state, out, aux):
        aux, stop, postfix = _record(i, state, out, aux)
        return (aux, stop, postfix, jnp.asarray(100.0)) if i == 1 else (aux, stop, postfix)

    loop = run_blocks(_walk, LoopState(jnp.zeros(()), _aux()), 4, callback=reset_after_two, progress=False,
                      checkpoint_path=path, checkpoint_every=2)
    state = jnp.zeros(())
    for i in range(4):
        state, _ = _walk(jnp.asarray(100.0) if i == 2 else state, i)
    assert float(loop.state) == pytest.approx(float(state))
    saved = load_checkpoint(path, {"state": jnp.zeros(()), "aux": _aux(), "blocks": 0, "stopped": False})
    assert float(saved["state"]) == pytest.approx(float(state))
    middle = run_blocks(_walk, LoopState(jnp.zeros(()), _aux()), 2, callback=reset_after_two, progress=False)
    assert float(middle.state) == 100.0
