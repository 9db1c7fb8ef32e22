"""The one driver of long loops: compiled blocks, a progress bar, early stopping, checkpoints.

Training (``nn.fit``, ``imnn.fit_imnn``) and sampling (``infer.nuts_blackjax``,
``infer.run_pmc_abc``, ``infer.sample_initial_conditions``) all advance a state by calling one compiled function, a *block*
(an epoch, ``validate_every`` optimiser steps, a run of NUTS transitions, a PMC round),
many times, with host-side bookkeeping between blocks. This module runs that loop once:

- ``start_or_resume(checkpoint_path, state, aux, resume)`` gives the ``LoopState`` to
  start from: the initial one, or the one saved in the checkpoint file;
- ``run_blocks(block, loop, n_blocks, ...)`` calls ``block(state, i)`` for block indices
  ``i = loop.blocks, ..., n_blocks - 1``, hands each result to ``callback`` (metrics,
  best-so-far bookkeeping, early stopping), advances a tqdm bar that ``progress=False``
  hides, and writes a checkpoint every ``checkpoint_every`` blocks and when it stops.

A checkpoint holds ``{"state", "aux", "blocks", "stopped"}`` in the format of
``cosmojax.io.save_checkpoint`` (atomic, checksummed). Everything random in a block must
derive from the block index (``fold_in(key, i)``): then a loop resumed from a checkpoint
ends where an uninterrupted one does, bit for bit on the same backend.
"""

from __future__ import annotations

import os
from typing import Any, Callable, NamedTuple

from tqdm.auto import tqdm

from cosmojax._validate import check_int
from cosmojax.io import check_output_path, load_checkpoint, save_checkpoint


class LoopState(NamedTuple):
    """Where a loop stands: the device ``state`` (a pytree the blocks advance), the host
    bookkeeping ``aux`` (a pytree of arrays and numbers: best values, histories), the
    number of ``blocks`` done and whether the loop has ``stopped`` early."""

    state: Any
    aux: Any
    blocks: int = 0
    stopped: bool = False


def _payload(loop: LoopState) -> dict:
    return {"state": loop.state, "aux": loop.aux, "blocks": int(loop.blocks), "stopped": bool(loop.stopped)}


def start_or_resume(checkpoint_path, state, aux=None, resume: bool = True) -> LoopState:
    """The ``LoopState`` to start from.

    Parameters
    ----------
    checkpoint_path : str, os.PathLike or None
        Checkpoint file of this loop; its folder must exist (checked here, before any work).
    state, aux : the initial device state and host bookkeeping; also the structure a
        checkpoint must have (see ``cosmojax.io.load_checkpoint``; a leaf of leading length 0
        in ``aux`` accepts a history of any length)
    resume : bool
        With ``True`` and an existing file, continue from it; with ``False`` start afresh
        (the file is overwritten at the first checkpoint).

    Returns
    -------
    LoopState. Raises ValueError naming the file when it is corrupted or holds another
    structure. Host-side, not traced.
    """
    if checkpoint_path is None:
        return LoopState(state, aux)
    checkpoint_path = check_output_path("checkpoint_path", checkpoint_path)
    if not resume or not os.path.exists(checkpoint_path):
        return LoopState(state, aux)
    saved = load_checkpoint(checkpoint_path, _payload(LoopState(state, aux)))
    return LoopState(saved["state"], saved["aux"], int(saved["blocks"]), bool(saved["stopped"]))


def run_blocks(
    block: Callable,
    loop: LoopState,
    n_blocks: int,
    *,
    callback: Callable | None = None,
    progress: bool = True,
    desc: str | None = None,
    steps_per_block: int = 1,
    checkpoint_path=None,
    checkpoint_every: int = 1,
) -> LoopState:
    """Run ``block`` until ``n_blocks`` blocks are done or ``callback`` stops the loop.

    Parameters
    ----------
    block : callable ``(state, i) -> (state, out)``
        One compiled block (jit it, with ``i`` a traced argument, so that every block
        reuses one compilation); ``i`` is the Python int index of the block.
    loop : LoopState from ``start_or_resume`` (or ``LoopState(state, aux)``)
    n_blocks : int >= 0
        Total blocks, counting those already done in ``loop``.
    callback : callable ``(i, state, out, aux) -> (aux, stop, postfix[, state])`` or None
        Host-side bookkeeping after block ``i``: the new ``aux``, whether to stop now, a
        dict shown on the progress bar (or None) and, optionally, the state to continue
        from (a sampler restarted with a retuned preconditioner, say; it is what the next
        block and the checkpoint see). It may raise to abort the loop; the checkpoint on
        disk then stays the last one written.
    progress : bool
        Show a tqdm bar (counting ``steps_per_block`` per block).
    desc : str or None
        Label of the bar.
    steps_per_block : int
        Units of the bar per block (e.g. optimiser steps or draws).
    checkpoint_path : str, os.PathLike or None
        Written every ``checkpoint_every`` blocks, when the loop stops early and after the
        last block.
    checkpoint_every : int >= 1

    Returns
    -------
    LoopState after the last block run. A host-side driver: not jit safe itself.
    """
    n_blocks = check_int("n_blocks", n_blocks, 0)
    checkpoint_every = check_int("checkpoint_every", checkpoint_every)
    steps_per_block = check_int("steps_per_block", steps_per_block)
    if checkpoint_path is not None:
        checkpoint_path = check_output_path("checkpoint_path", checkpoint_path)
    state, aux, done, stopped = loop
    total = max(n_blocks, done) * steps_per_block
    with tqdm(total=total, initial=done * steps_per_block, disable=not progress, desc=desc) as bar:
        while done < n_blocks and not stopped:
            state, out = block(state, done)
            postfix = None
            if callback is not None:
                decision = callback(done, state, out, aux)
                aux, stop, postfix = decision[:3]
                if len(decision) == 4:
                    state = decision[3]
                stopped = bool(stop)
            done += 1
            bar.update(steps_per_block)
            if postfix:
                bar.set_postfix(postfix)
            if checkpoint_path is not None and (done % checkpoint_every == 0 or stopped or done == n_blocks):
                save_checkpoint(checkpoint_path, _payload(LoopState(state, aux, done, stopped)))
    return LoopState(state, aux, done, stopped)
