"""Figures a cosmologist draws first: P(k) with its ratio to theory, xi(r), the 3PCF.

Every function takes numpy-convertible arrays and returns a ``matplotlib.figure.Figure``
(drawn with the object-oriented API, so it never touches pyplot's global state or needs a
screen); ``save_figure`` writes one atomically. Log axes carry labels on major ticks only,
at 1, 2 and 5 times a power of ten when an axis spans less than two decades, so labels
never overlap. Host-side plotting: nothing here is traced.
"""

from __future__ import annotations

import io as _bytes_io
import os

import numpy as np

#: Figure width in inches; heights follow from the panels.
WIDTH = 5.5


def _figure(height: float, rows: int = 1, ratios=None):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH, height), layout="constrained")
    axes = fig.subplots(rows, 1, sharex=True, squeeze=False,
                        gridspec_kw={"height_ratios": ratios} if ratios else None)[:, 0]
    return fig, axes


def log_axis(ax, which: str = "x") -> None:
    """Put a log scale on the ``which`` ("x" or "y") axis of ``ax``, with readable labels.

    Major ticks at powers of ten, or at 1, 2 and 5 times them when the axis spans under two
    decades, labelled as plain numbers (0.05, 0.1, 0.2); minor ticks unlabelled. Call it
    after the data and limits are set.
    """
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    if which not in ("x", "y"):
        raise ValueError(f"which must be 'x' or 'y'; got {which!r}.")
    (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    lo, hi = sorted(abs(v) for v in (ax.get_xlim() if which == "x" else ax.get_ylim()))
    narrow = lo > 0 and np.log10(hi / lo) < 2
    axis = ax.xaxis if which == "x" else ax.yaxis
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if narrow else (1.0,)))
    axis.set_minor_locator(LogLocator(base=10, subs=np.arange(2, 10) * 1.0))
    axis.set_major_formatter(FuncFormatter(_plain))
    axis.set_minor_formatter(NullFormatter())


def _plain(value, _pos=None) -> str:
    """A tick label: 0.05, 0.1, 2, 500 as plain numbers; 10^4, 2 x 10^-4 outside 1e-3 .. 1e4."""
    if value == 0:
        return "0"
    if 1e-3 <= abs(value) < 1e4:
        return f"{value:g}"
    exponent = int(np.floor(np.log10(abs(value)) + 1e-9))
    mantissa = value / 10.0**exponent
    return f"$10^{{{exponent}}}$" if abs(mantissa - 1) < 1e-9 else f"${mantissa:g}\\times10^{{{exponent}}}$"


def power_spectrum_figure(k, power, *, reference=None, label="measured", reference_label: str = "linear theory",
                          error=None, shot_noise: float | None = None, k_nyquist: float | None = None,
                          title: str | None = None, ratio_limits=None):
    """P(k) on log axes and, with ``reference``, a lower panel of P / reference.

    Parameters
    ----------
    k : (B,) array, h/Mpc
    power : (B,) or (S, B) array, (Mpc/h)^3: one spectrum or S of them (snapshots, say),
        labelled by ``label`` (a string, or S strings)
    reference : array of the shape of ``power``, (Mpc/h)^3, or None: the theory, drawn dashed
        in the colour of its spectrum; the lower panel shows power / reference
    error : array of the shape of ``power`` or None: one-sigma error bars
    shot_noise : (Mpc/h)^3 or None: 1 / nbar, drawn dotted (the floor a point sample adds)
    k_nyquist : h/Mpc or None: the mesh's Nyquist frequency, a vertical line; aliasing of the
        mass assignment lifts the measured power as k approaches it
    ratio_limits : (lo, hi) or None: the lower panel's y range

    Returns a ``matplotlib.figure.Figure``. Host-side.
    """
    k = np.asarray(k, float)
    power = np.atleast_2d(np.asarray(power, float))
    labels = [label] if isinstance(label, str) else list(label)
    if len(labels) != power.shape[0] or power.shape[1] != k.size:
        raise ValueError(f"power must be (B,) or (S, B) with B = len(k) = {k.size} and one label per row; "
                         f"got shape {power.shape} and {len(labels)} label(s).")
    refs = None if reference is None else np.broadcast_to(np.atleast_2d(np.asarray(reference, float)), power.shape)
    errs = None if error is None else np.broadcast_to(np.atleast_2d(np.asarray(error, float)), power.shape)
    rows = 2 if refs is not None else 1
    fig, axes = _figure(4.8 if rows == 2 else 3.6, rows, [3, 1.2] if rows == 2 else None)
    ax = axes[0]
    for i, name in enumerate(labels):
        if errs is None:
            line = ax.plot(k, power[i], marker=".", label=name)[0]
        else:
            line = ax.errorbar(k, power[i], yerr=errs[i], fmt=".-", capsize=2, label=name).lines[0]
        colour = line.get_color()
        if refs is not None:
            ax.plot(k, refs[i], ls="--", color="k" if len(labels) == 1 else colour, lw=1,
                    label=reference_label if i == 0 else None)
            ratio = power[i] / refs[i]
            if errs is None:
                axes[1].plot(k, ratio, marker=".", color=colour)
            else:
                axes[1].errorbar(k, ratio, yerr=errs[i] / refs[i], fmt=".", capsize=2, color=colour)
    if shot_noise is not None:
        ax.axhline(shot_noise, ls=":", color="0.4", lw=1, label=f"shot noise 1/n = {shot_noise:.3g}")
    if k_nyquist is not None:
        for a in axes:
            a.axvline(k_nyquist, color="0.6", lw=0.8)
        ax.text(k_nyquist, 0.97, "Nyquist ", transform=ax.get_xaxis_transform(), va="top", ha="right",
                color="0.4", fontsize="small")
    ax.set_ylabel(r"$P(k)$ [$(h^{-1}\mathrm{Mpc})^3$]")
    ax.legend(fontsize="small", loc="lower left")
    if title:
        ax.set_title(title, fontsize="medium")
    if refs is not None:
        axes[1].axhline(1.0, color="k", lw=0.8)
        axes[1].set_ylabel(f"P / {'theory' if len(reference_label) > 14 else reference_label}", fontsize="small")
        if ratio_limits is not None:
            axes[1].set_ylim(*ratio_limits)
    axes[-1].set_xlabel(r"$k$ [$h\,\mathrm{Mpc}^{-1}$]")
    positive = k[k > 0]
    hi = max(positive.max(), k_nyquist or 0.0)
    for a in axes:
        a.set_xlim(positive.min() / 1.15, hi * 1.15)
    log_axis(axes[-1], "x")
    log_axis(ax, "y")
    return fig


def correlation_figure(r_edges, xi, *, error=None, label: str = "measured", title: str | None = None):
    """The two-point function as r^2 xi(r) against r, the form in which the BAO bump and the
    large-scale shape read directly; a log r axis when the bins are logarithmic.

    Parameters
    ----------
    r_edges : (B + 1,) array, Mpc/h; xi : (B,) array (dimensionless)
    error : (B,) array or None, one-sigma errors on xi
    """
    edges, xi = np.asarray(r_edges, float), np.asarray(xi, float)
    r = _bin_centres(edges)
    fig, (ax,) = _figure(3.6)
    y = r**2 * xi
    if error is None:
        ax.plot(r, y, marker=".", label=label)
    else:
        ax.errorbar(r, y, yerr=r**2 * np.asarray(error, float), marker=".", capsize=2, label=label)
    ax.axhline(0.0, color="0.6", lw=0.8)
    ax.set_xlabel(r"$r$ [$h^{-1}\mathrm{Mpc}$]")
    ax.set_ylabel(r"$r^2\,\xi(r)$ [$(h^{-1}\mathrm{Mpc})^2$]")
    if _logarithmic(edges):
        ax.set_xlim(edges[0], edges[-1])
        log_axis(ax, "x")
    if title:
        ax.set_title(title, fontsize="medium")
    return fig


def threepcf_figure(r_edges, zeta, *, ell=None, quantity: str = "zeta", title: str | None = None):
    """The three-point function: Legendre multipoles as r1-r2 maps, or triangle cells.

    Parameters
    ----------
    r_edges : (B + 1,) array, Mpc/h
    zeta : (L + 1, B, B) array of multipoles zeta_l(r1, r2) (one panel per ell in ``ell``,
        default every ell up to 3, each with a labelled colour bar), or (C,) array over the
        triangle cells r1 >= r2 >= r3 in the order of ``triangle_cells(B)`` (against the
        cell, each labelled by its three bin indices)
    quantity : what the values are, for the labels: "zeta" (the 3PCF), "Z" (unnormalised
        multipoles) or "DDD" (triangle counts)

    Returns a ``matplotlib.figure.Figure``. Host-side.
    """
    symbol = {"zeta": r"\zeta", "Z": "Z", "DDD": r"\mathrm{DDD}"}.get(quantity)
    if symbol is None:
        raise ValueError(f"quantity must be 'zeta', 'Z' or 'DDD'; got {quantity!r}.")
    edges, zeta = np.asarray(r_edges, float), np.asarray(zeta, float)
    if zeta.ndim == 3:
        ells = list(range(min(zeta.shape[0], 4))) if ell is None else list(ell)
        from matplotlib.figure import Figure

        fig = Figure(figsize=(WIDTH, 2.6 * ((len(ells) + 1) // 2)), layout="constrained")
        axes = np.atleast_1d(fig.subplots((len(ells) + 1) // 2, min(len(ells), 2), squeeze=False).ravel())
        for ax, l in zip(axes, ells):
            image = ax.pcolormesh(edges, edges, zeta[l].T, cmap="RdBu_r",
                                  vmin=-np.abs(zeta[l]).max(), vmax=np.abs(zeta[l]).max())
            ax.set_aspect("equal")
            ax.set_xlabel(r"$r_1$ [$h^{-1}$Mpc]")
            ax.set_ylabel(r"$r_2$ [$h^{-1}$Mpc]")
            fig.colorbar(image, ax=ax, label=rf"${symbol}_{l}(r_1, r_2)$")
        for ax in axes[len(ells):]:
            ax.set_visible(False)
    else:
        cells = triangle_cells(len(edges) - 1)
        if zeta.shape != (len(cells),):
            raise ValueError(f"zeta must be (L + 1, B, B) multipoles or ({len(cells)},) triangle cells for "
                             f"{len(edges) - 1} bins; got shape {zeta.shape}.")
        fig, (ax,) = _figure(3.6)
        ax.plot(np.arange(len(cells)), zeta, marker="o")
        ax.axhline(0.0, color="0.6", lw=0.8)
        ax.set_xticks(np.arange(len(cells)), [f"{a}{b}{c}" for a, b, c in cells],
                      rotation=90 if len(cells) > 12 else 0, fontsize="small")
        ax.set_xlabel("triangle cell (bins of r1 >= r2 >= r3)")
        ax.set_ylabel(rf"${symbol}(r_1, r_2, r_3)$")
    if title:
        fig.suptitle(title, fontsize="medium")
    return fig


def triangle_cells(nbins: int) -> list[tuple[int, int, int]]:
    """The triangle cells (b1, b2, b3) with b1 >= b2 >= b3, in the order tables list them."""
    return [(a, b, c) for a in range(nbins) for b in range(a + 1) for c in range(b + 1)]


def save_figure(fig, path) -> str:
    """Render ``fig`` (format from the extension: .png, .pdf, .svg) and write it atomically."""
    from cosmojax.io import write_atomic

    buffer = _bytes_io.BytesIO()
    fmt = os.path.splitext(os.fspath(path))[1].lstrip(".") or "png"
    fig.savefig(buffer, format=fmt, dpi=120)
    return write_atomic(path, buffer.getvalue())


def _bin_centres(edges):
    return np.sqrt(edges[1:] * edges[:-1]) if _logarithmic(edges) else 0.5 * (edges[1:] + edges[:-1])


def _logarithmic(edges) -> bool:
    return bool(edges[0] > 0 and len(edges) > 2 and np.allclose(np.diff(np.log(edges)), np.log(edges[1] / edges[0])))
