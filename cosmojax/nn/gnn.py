"""Message passing over a neighbour graph, with an L1 penalty on messages.

For each layer, every edge j -> i carries a message m_ij = phi_e(h_i, h_j, e_ij); node i
sums its incoming messages and updates h_i <- phi_v(h_i, sum_j m_ij) (Battaglia et al.
2018, arXiv:1806.01261). An L1 penalty on the messages makes them sparse, so that they
can be fitted by symbolic regression afterwards (Cranmer et al. 2020, arXiv:2006.11287).

A graph is ``senders`` and ``receivers``: two (E,) int arrays of node indices; ``knn_graph``
and ``radius_graph`` build them from positions. Node-level outputs are equivariant and
graph-level (pooled) outputs invariant under any relabelling of the nodes.
"""

from __future__ import annotations

from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from cosmojax._validate import check_choice, check_int, check_positions, check_positive, check_real
from cosmojax.nn.heads import MLP

READOUTS = ("node", "sum", "mean")


def _pair_separation(a, b, box_size):
    d = a[:, None, :] - b[None, :, :]
    if box_size is not None:
        d = d - box_size * jnp.round(d / box_size)
    return d


def knn_graph(pos, k: int, box_size=None, chunk_size: int = 1024):
    """Edges from each point's ``k`` nearest neighbours (self excluded) to the point.

    Parameters
    ----------
    pos : (N, d) array, Mpc/h (or any length unit)
    k : int, 1 <= k < N (static)
    box_size : float or None
        Side of a periodic box (same unit as ``pos``) for minimum-image distances; None for
        an open domain.
    chunk_size : int
        Receivers handled at once; memory is O(chunk_size * N).

    Returns
    -------
    senders, receivers : (N * k,) int32 arrays; edge e goes senders[e] -> receivers[e], and
    receivers is sorted (each node receives exactly k edges).

    jit and vmap safe (``k``, ``chunk_size`` static); not differentiable (indices). ``pos``
    may be a numpy array (e.g. from ``cosmojax.io.read_catalogue``). Raises ``TypeError``
    for complex positions and ``ValueError`` for a bad shape, NaN (concrete positions only:
    under jit/vmap the NaN check is skipped), a non-integer ``k`` or ``chunk_size``.
    """
    check_real("pos", pos)
    check_positions("pos", pos)
    pos = jnp.asarray(pos)
    n = pos.shape[0]
    k = check_int("k", k)
    if not k < n:
        raise ValueError(f"k must satisfy 1 <= k < N = {n}; got {k}. Use fewer neighbours or more points.")
    chunk_size = check_int("chunk_size", chunk_size)
    if box_size is not None:
        check_real("box_size", box_size)
        check_positive("box_size", box_size)
    chunk = int(min(chunk_size, n))
    n_chunks = -(-n // chunk)
    idx = jnp.arange(n_chunks * chunk) % n

    def neighbours(rows):
        d = _pair_separation(pos[rows], pos, box_size)
        r2 = jnp.sum(d**2, axis=-1)
        r2 = jnp.where(rows[:, None] == jnp.arange(n)[None, :], jnp.inf, r2)
        return jax.lax.top_k(-r2, int(k))[1]

    nb = jax.lax.map(neighbours, idx.reshape(n_chunks, chunk)).reshape(-1, int(k))[:n]
    senders = nb.reshape(-1).astype(jnp.int32)
    receivers = jnp.repeat(jnp.arange(n, dtype=jnp.int32), int(k))
    return senders, receivers


def radius_graph(pos, radius: float, box_size=None):
    """All ordered pairs closer than ``radius`` (self excluded), as numpy index arrays.

    The number of edges depends on the data, so this runs eagerly (not under jit).
    ``pos``: (N, d) array; returns ``senders, receivers`` (E,) int32 numpy arrays.
    O(N^2) time; memory O(N) per row. Raises ``TypeError`` for complex input and
    ``ValueError`` for a bad shape, NaN or a non-positive ``radius`` or ``box_size``.
    """
    check_real("pos", pos)
    check_positions("pos", pos)
    check_real("radius", radius)
    check_positive("radius", radius)
    if box_size is not None:
        check_real("box_size", box_size)
        check_positive("box_size", box_size)
    p = np.asarray(pos)
    senders, receivers = [], []
    for i in range(p.shape[0]):
        d = p - p[i]
        if box_size is not None:
            d = d - box_size * np.round(d / box_size)
        close = np.nonzero(np.sum(d**2, axis=-1) < radius**2)[0]
        close = close[close != i]
        senders.append(close)
        receivers.append(np.full(close.size, i))
    return np.concatenate(senders).astype(np.int32), np.concatenate(receivers).astype(np.int32)


class GNN(nn.Module):
    """Message-passing graph network.

    Attributes
    ----------
    message_features : sequence of int
        Widths of the edge MLP phi_e; the last is the message dimension.
    node_features : sequence of int
        Widths of the node MLP phi_v; the last is the node state dimension.
    out_features : int
        Output size per node (readout "node") or per graph ("sum"/"mean").
    n_layers : int
        Rounds of message passing (separate weights per round).
    readout : {"node", "sum", "mean"}
    activation : str or callable

    Call arguments
    --------------
    nodes : (N, d_node) array
    senders, receivers : (E,) int arrays
    edges : (E, d_edge) array or None (e.g. relative positions)
    edge_mask : (E,) bool array or None; False edges carry no message (padding)

    Returns ``(N, out_features)`` for readout "node", else ``(out_features,)``. Messages of
    each layer are stored in the ``"intermediates"`` collection under ``"messages"``; see
    ``apply_with_message_penalty``. One graph per call: ``jax.vmap`` the apply function over
    a batch of graphs of equal size. jit, vmap and grad safe.
    """

    message_features: Sequence[int]
    node_features: Sequence[int]
    out_features: int
    n_layers: int = 1
    readout: str = "node"
    activation: str | Callable = "relu"

    @nn.compact
    def __call__(self, nodes, senders, receivers, edges=None, edge_mask=None):
        check_choice("readout", self.readout, READOUTS)
        if nodes.ndim != 2:
            raise ValueError(f"nodes must have shape (N, d_node); got shape {nodes.shape}.")
        if senders.shape != receivers.shape or senders.ndim != 1:
            raise ValueError(
                f"senders and receivers must be (E,) arrays of equal length; got {senders.shape}, {receivers.shape}."
            )
        n = nodes.shape[0]
        h = nodes
        for layer in range(self.n_layers):
            inputs = [h[receivers], h[senders]]
            if edges is not None:
                inputs.append(edges)
            m = MLP(self.message_features, self.activation, name=f"edge_{layer}")(jnp.concatenate(inputs, -1))
            if edge_mask is not None:
                m = m * edge_mask[:, None].astype(m.dtype)
            self.sow("intermediates", "messages", m)
            agg = jax.ops.segment_sum(m, receivers, num_segments=n)
            h = MLP(self.node_features, self.activation, name=f"node_{layer}")(jnp.concatenate([h, agg], -1))
        if self.readout == "sum":
            h = jnp.sum(h, axis=0)
        elif self.readout == "mean":
            h = jnp.mean(h, axis=0)
        return nn.Dense(self.out_features, name="readout")(h)


def message_l1(messages, edge_mask=None):
    """L1 penalty: sum over layers of the mean over edges of sum_c |m_c|.

    ``messages``: a sequence of (E, d_msg) arrays (as sown by ``GNN``); ``edge_mask``: (E,)
    or None. Returns a scalar. jit, vmap and grad safe.
    """
    total = 0.0
    for m in messages:
        per_edge = jnp.sum(jnp.abs(m), axis=-1)
        if edge_mask is None:
            total = total + jnp.mean(per_edge)
        else:
            w = edge_mask.astype(m.dtype)
            total = total + jnp.sum(per_edge * w) / jnp.maximum(jnp.sum(w), 1.0)
    return total


def apply_with_message_penalty(model: GNN, params, *args, **kwargs):
    """Run ``model`` and return ``(output, l1)`` with ``l1 = message_l1(messages)``.

    ``params``: the variables dict from ``model.init``; further arguments as for ``GNN``.
    Add ``alpha * l1`` to the training loss to make messages sparse. jit, vmap, grad safe.
    """
    out, state = model.apply(params, *args, mutable=["intermediates"], **kwargs)
    messages = state["intermediates"]["messages"]
    edge_mask = kwargs.get("edge_mask", args[4] if len(args) > 4 else None)
    return out, message_l1(messages, edge_mask)
