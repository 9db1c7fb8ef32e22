"""cosmojax.plotting: every figure renders without warnings, with labels that do not overlap."""

import itertools
import warnings

import numpy as np
import pytest

from cosmojax.plotting import (
    correlation_figure,
    power_spectrum_figure,
    save_figure,
    threepcf_figure,
    triangle_cells,
)


def _render(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        canvas.draw()
    return canvas.get_renderer()


def _visible_tick_labels(fig, renderer):
    """(axes index, axis name, text, bounding box) of every drawn tick label."""
    out = []
    for i, ax in enumerate(fig.axes):
        for name, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                for label in (tick.label1, tick.label2):
                    if label.get_visible() and label.get_text() and ax.get_visible():
                        out.append((i, name, label.get_text(), label.get_window_extent(renderer)))
    return out


def _assert_no_overlap(fig):
    renderer = _render(fig)
    labels = _visible_tick_labels(fig, renderer)
    assert labels
    for (i, n, t, a), (j, m, u, b) in itertools.combinations(labels, 2):
        if (i, n) == (j, m):
            assert not a.overlaps(b), f"tick labels {t!r} and {u!r} of axes {i} overlap"
    return labels


K_NARROW = np.geomspace(0.03, 0.4, 25)   # about one decade: the case that used to overlap
K_WIDE = np.geomspace(0.003, 3.0, 40)


@pytest.mark.parametrize("k", [K_NARROW, K_WIDE])
def test_power_spectrum_figure_has_a_ratio_panel_and_readable_log_axes(k):
    power = 2e4 * (k / 0.05) ** -1.5
    fig = power_spectrum_figure(k, [power, 1.1 * power], reference=[power, power], label=["a = 0.5", "a = 1"],
                                error=0.05 * power, shot_noise=300.0, k_nyquist=0.8 * k.max(), title="run")
    labels = _assert_no_overlap(fig)
    top, ratio = fig.axes
    assert top.get_yscale() == ratio.get_xscale() == "log"
    curves = [container.lines[0].get_ydata() for container in ratio.containers]  # the error-bar series
    np.testing.assert_allclose(curves, [np.ones(k.size), np.full(k.size, 1.1)])  # P / reference per spectrum
    x_labels = [t for i, n, t, _ in labels if i == 1 and n == "x"]
    if k is K_NARROW:  # under two decades: 1, 2, 5 times powers of ten, as plain numbers
        assert {"0.05", "0.1", "0.2"} <= set(x_labels)
    else:
        assert {"0.01", "0.1", "1"} <= set(x_labels) and "0.2" not in x_labels
    assert any("shot noise" in t.get_text() for t in top.get_legend().get_texts())


def test_power_spectrum_figure_checks_its_shapes():
    with pytest.raises(ValueError, match="power must be"):
        power_spectrum_figure(K_NARROW, np.ones(3))
    with pytest.raises(ValueError, match="one label per row"):
        power_spectrum_figure(K_NARROW, np.ones((2, K_NARROW.size)), label="one")


@pytest.mark.parametrize("edges", [np.geomspace(0.5, 150, 21), np.linspace(0, 200, 41)])
def test_correlation_figure_draws_r2_xi(edges):
    r = 0.5 * (edges[1:] + edges[:-1])
    xi = (r / 5.0) ** -1.8
    fig = correlation_figure(edges, xi, error=0.1 * xi)
    _assert_no_overlap(fig)
    (ax,) = fig.axes
    assert ax.get_xscale() == ("log" if edges[0] > 0 else "linear")
    assert "xi" in ax.get_ylabel()


def test_threepcf_figures_label_every_colour_bar_and_cell():
    edges = np.linspace(10, 50, 5)
    multipoles = np.random.default_rng(0).normal(size=(4, 4, 4))
    fig = threepcf_figure(edges, multipoles)
    _assert_no_overlap(fig)
    bars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(bars) == 4 and all(bar.get_ylabel().startswith(r"$\zeta_") for bar in bars)
    cells = triangle_cells(4)
    assert len(cells) == 20 and all(a >= b >= c for a, b, c in cells)
    fig = threepcf_figure(edges, np.arange(20.0), quantity="DDD")
    _assert_no_overlap(fig)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()][:2] == ["000", "100"]
    with pytest.raises(ValueError, match=r"\(20,\) triangle cells"):
        threepcf_figure(edges, np.arange(7.0))
    with pytest.raises(ValueError, match="quantity"):
        threepcf_figure(edges, np.arange(20.0), quantity="xi")


def test_save_figure_writes_the_file_whole(tmp_path):
    fig = correlation_figure(np.linspace(0, 100, 11), np.linspace(1, 0, 10))
    for name, magic in (("f.png", b"\x89PNG"), ("f.pdf", b"%PDF"), ("f.svg", b"<?xml")):
        path = save_figure(fig, tmp_path / name)
        assert open(path, "rb").read(len(magic)) == magic
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.pdf", "f.png", "f.svg"]  # no temporary files left
