import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cosmojax import mesh

from tests._transforms import assert_vmap_and_jit


@pytest.mark.parametrize("scheme", mesh.SCHEMES)
@pytest.mark.parametrize("shape, box", [((8, 12, 10), (80.0, 60.0, 50.0)), ((16, 8), 40.0)])
def test_paint_conserves_mass_exactly(x64, rng_pos, scheme, shape, box):
    pos, w = rng_pos(len(shape), box)
    m = mesh.paint(pos, shape, box, weights=w, scheme=scheme)
    assert m.shape == shape
    assert float(jnp.sum(m)) == pytest.approx(float(np.sum(w)), rel=1e-14)
    assert float(jnp.min(m)) >= 0.0


@pytest.fixture
def rng_pos():
    def make(d, box, n=500, seed=1):
        rng = np.random.default_rng(seed)
        sizes = np.broadcast_to(np.asarray(box, float), (d,))
        return rng.uniform(0, 1, (n, d)) * sizes, rng.uniform(0.5, 2.0, n)

    return make


def test_paint_places_mass_on_the_right_cells(x64):
    # One particle at (1.25, 2.5) cells in a 4x4 mesh of unit cells
    pos = jnp.array([[1.25, 2.5]])
    cic = np.asarray(mesh.paint(pos, (4, 4), 4.0, scheme="cic"))
    expected = np.zeros((4, 4))
    expected[1, 2] = 0.75 * 0.5
    expected[1, 3] = 0.75 * 0.5
    expected[2, 2] = 0.25 * 0.5
    expected[2, 3] = 0.25 * 0.5
    np.testing.assert_allclose(cic, expected, atol=1e-15)
    ngp = np.asarray(mesh.paint(jnp.array([[1.4, 3.6]]), (4, 4), 4.0, scheme="ngp"))
    assert ngp[1, 0] == 1.0 and ngp.sum() == 1.0  # 3.6 rounds to 4 -> wraps to 0
    tsc = np.asarray(mesh.paint(jnp.array([[2.0, 2.0]]), (4, 4), 4.0, scheme="tsc"))
    np.testing.assert_allclose(tsc[1:4, 2], [0.125 * 0.75, 0.75 * 0.75, 0.125 * 0.75], atol=1e-15)


def test_paint_wraps_periodically(x64):
    inside = mesh.paint(jnp.array([[0.5, 0.5, 0.5]]), (4, 4, 4), 4.0)
    outside = mesh.paint(jnp.array([[4.5, -3.5, 8.5]]), (4, 4, 4), 4.0)
    np.testing.assert_allclose(inside, outside, atol=1e-14)


@pytest.mark.parametrize("scheme", mesh.SCHEMES)
def test_readout_is_the_adjoint_of_paint(x64, rng_pos, scheme):
    pos, w = rng_pos(3, 30.0)
    field = jax.random.normal(jax.random.key(0), (6, 6, 6))
    lhs = jnp.sum(mesh.paint(pos, (6, 6, 6), 30.0, weights=w, scheme=scheme) * field)
    rhs = jnp.sum(w * mesh.readout(field, pos, 30.0, scheme=scheme))
    assert float(lhs) == pytest.approx(float(rhs), rel=1e-12)


def test_readout_of_a_linear_field_is_exact_for_cic(x64):
    # CIC readout interpolates linearly: a plane wave of long wavelength is nearly recovered,
    # and a constant exactly.
    pos = jnp.array([[1.3, 2.7, 0.2], [3.9, 0.1, 2.2]])
    const = jnp.full((4, 4, 4), 3.5)
    np.testing.assert_allclose(mesh.readout(const, pos, 4.0), 3.5, rtol=1e-14)


def test_window_values(x64):
    w = np.asarray(mesh.window((8, 8, 8), "cic"))
    assert w.shape == (8, 8, 5)
    assert w[0, 0, 0] == 1.0
    assert w[4, 0, 0] == pytest.approx((2 / np.pi) ** 2)  # sinc(1/2)^2 at Nyquist
    assert np.asarray(mesh.window((8, 8), "tsc"))[0, 4] == pytest.approx((2 / np.pi) ** 3)
    field_k = jnp.ones((8, 8, 5), complex)
    np.testing.assert_allclose(mesh.compensate(field_k, (8, 8, 8), "cic") * w, 1.0, rtol=1e-14)


def test_painted_power_is_compensated_by_the_window(x64):
    # A plane wave sampled by CIC is suppressed by W(k); compensation restores it.
    n, box = 32, 32.0
    g = np.arange(n) + 0.5
    x, y, z = np.meshgrid(g, g, g, indexing="ij")
    pos = np.stack([x, y, z], -1).reshape(-1, 3)
    kx = 2 * np.pi * 3 / box
    weights = 1 + 0.1 * np.cos(kx * pos[:, 0])
    m = mesh.paint(pos, (n, n, n), box, weights=weights, scheme="cic")
    mk = jnp.fft.rfftn(m)
    raw = abs(mk[3, 0, 0])
    comp = abs(mesh.compensate(mk, (n, n, n), "cic")[3, 0, 0])
    truth = 0.05 * n**3  # amplitude of the cosine mode
    # half-cell offset particles: CIC averages two cells, giving exactly cos(k h / 2) * W? check ordering
    assert comp > raw
    assert comp == pytest.approx(truth * np.cos(kx * 0.5) / np.sinc(3 / n) ** 2, rel=1e-10)


@pytest.mark.parametrize("kind", ["exact", "fd2", "fd4"])
def test_gradient_of_a_sine_wave(x64, kind):
    n, box = 32, 100.0
    h = box / n
    x = np.arange(n) * h
    k = 2 * np.pi * 2 / box
    f = np.broadcast_to(np.sin(k * x)[None, :, None], (n, n, n))
    g = np.asarray(mesh.gradient(f, box, kind=kind))
    assert g.shape == (3, n, n, n)
    # the stencils' own answers on a sampled sine: (f(x+h) - f(x-h)) / 2h etc.
    effective = {
        "exact": k,
        "fd2": np.sin(k * h) / h,
        "fd4": (8 * np.sin(k * h) - np.sin(2 * k * h)) / (6 * h),
    }[kind]
    np.testing.assert_allclose(g[1][0, :, 0], effective * np.cos(k * x), atol=1e-13)
    direct_fd2 = (np.roll(f, -1, axis=1) - np.roll(f, 1, axis=1)) / (2 * h)
    if kind == "fd2":
        np.testing.assert_allclose(g[1], direct_fd2, atol=1e-13)
    assert np.abs(g[0]).max() < 1e-12 and np.abs(g[2]).max() < 1e-12


@pytest.mark.parametrize("kind", ["exact", "fd2", "fd4"])
def test_one_axis_gradient_kernel_is_the_mesh_kernel(x64, kind):
    # the per-axis numpy table (used by the N-body force response) and the mesh kernel agree,
    # Nyquist planes included, on even and odd axes
    shape, box = (8, 7, 6), (40.0, 35.0, 24.0)
    kernels = mesh.gradient_kernel(shape, box, kind)
    for axis, (m, n, L) in enumerate(zip(mesh.frequencies(shape), shape, box)):
        table = mesh.gradient_kernel_numpy(m / n, L / n, kind)
        np.testing.assert_allclose(np.imag(kernels[axis]), table, rtol=1e-14, atol=1e-14)
        np.testing.assert_array_equal(np.real(kernels[axis]), 0.0)
    folded = mesh.gradient_kernel_numpy(np.array([-0.5, 0.5]), 5.0, kind)
    np.testing.assert_allclose(folded[0], -folded[1] if kind != "exact" else 0.0, atol=1e-14)


def test_inverse_laplacian_inverts_the_laplacian(x64):
    n, box = 16, 50.0
    f = jax.random.normal(jax.random.key(3), (n, n, n))
    f = f - f.mean()
    phi = jnp.fft.irfftn(jnp.fft.rfftn(f) * mesh.inverse_laplacian_kernel((n, n, n), box), s=(n, n, n))
    lap = jnp.fft.irfftn(-jnp.fft.rfftn(phi) * mesh.rfftn_kmag((n, n, n), box) ** 2, s=(n, n, n))
    np.testing.assert_allclose(lap, f, atol=1e-12)


def test_kvec_and_hermitian_weights_count_every_mode_once():
    for shape in [(8, 8, 8), (6, 10, 7), (9, 4)]:
        w = np.asarray(mesh.hermitian_weights(shape))
        assert w.sum() == np.prod(shape)
    k = mesh.rfftn_kvec((8, 8, 8), 100.0)
    assert [kk.shape for kk in k] == [(8, 1, 1), (1, 8, 1), (1, 1, 5)]
    assert float(k[0][1, 0, 0]) == pytest.approx(2 * np.pi / 100)
    assert float(k[0][7, 0, 0]) == pytest.approx(-2 * np.pi / 100)


def test_paint_is_differentiable_in_weights_and_positions(x64):
    pos = jnp.array([[1.3, 2.2, 3.7], [0.4, 3.1, 1.9]])
    target = jax.random.normal(jax.random.key(1), (4, 4, 4))

    def loss(p, w):
        return jnp.sum(mesh.paint(p, (4, 4, 4), 4.0, weights=w) * target)

    gp, gw = jax.grad(loss, argnums=(0, 1))(pos, jnp.ones(2))
    np.testing.assert_allclose(gw, mesh.readout(target, pos, 4.0), rtol=1e-12)
    eps = 1e-6
    fd = (loss(pos.at[0, 2].add(eps), jnp.ones(2)) - loss(pos.at[0, 2].add(-eps), jnp.ones(2))) / (2 * eps)
    assert float(gp[0, 2]) == pytest.approx(float(fd), rel=1e-6)
    assert jax.jit(lambda p: mesh.paint(p, (4, 4, 4), 4.0))(pos).shape == (4, 4, 4)


def test_bad_mesh_inputs_raise():
    pos = np.zeros((3, 3))
    with pytest.raises(ValueError, match="pos contains NaN"):
        mesh.paint(np.array([[np.nan, 0, 0]]), (4, 4, 4), 10.0)
    with pytest.raises(ValueError, match=r"pos must have shape \(N, 3\)"):
        mesh.paint(np.zeros((3, 2)), (4, 4, 4), 10.0)
    with pytest.raises(ValueError, match="weights must have shape"):
        mesh.paint(pos, (4, 4, 4), 10.0, weights=np.ones(2))
    with pytest.raises(ValueError, match="scheme must be one of"):
        mesh.paint(pos, (4, 4, 4), 10.0, scheme="pcs")
    with pytest.raises(ValueError, match="mesh_shape must have 2 or 3 entries"):
        mesh.paint(pos, (4, 4, 4, 4), 10.0)
    with pytest.raises(ValueError, match="box_size must be positive"):
        mesh.paint(pos, (4, 4, 4), -1.0)
    with pytest.raises(ValueError, match="kind must be one of"):
        mesh.gradient(np.zeros((4, 4, 4)), 10.0, kind="spectral")


@pytest.mark.parametrize("scheme", ["cic", "tsc"])
def test_chunked_paint_and_readout_equal_one_pass(scheme):
    pos = jax.random.uniform(jax.random.key(0), (1000, 3), maxval=50.0)
    w = jax.random.uniform(jax.random.key(1), (1000,))
    whole = mesh.paint(pos, (8, 8, 8), 50.0, weights=w, scheme=scheme)
    chunked = jax.jit(lambda p: mesh.paint(p, (8, 8, 8), 50.0, weights=w, scheme=scheme, chunk_size=300))(pos)
    np.testing.assert_allclose(chunked, whole, rtol=1e-5, atol=1e-5)
    assert float(chunked.sum()) == pytest.approx(float(w.sum()), rel=1e-5)
    read = mesh.readout(whole, pos, 50.0, scheme=scheme, chunk_size=256)
    np.testing.assert_allclose(read, mesh.readout(whole, pos, 50.0, scheme=scheme), rtol=1e-6)
    assert read.shape == (1000,)
    with pytest.raises(ValueError, match="chunk_size must be an integer >= 1"):
        mesh.paint(pos, (8, 8, 8), 50.0, chunk_size=0)


def test_paint_readout_compensate_gradient_vmap_over_a_batch_and_jit():
    pos = jax.random.uniform(jax.random.key(0), (3, 64, 3), maxval=40.0)
    w = jax.random.uniform(jax.random.key(1), (3, 64), minval=0.5, maxval=1.5)
    assert_vmap_and_jit(lambda p, m: mesh.paint(p, (8, 8, 8), 40.0, weights=m), pos, w)
    fields = jax.random.normal(jax.random.key(2), (3, 8, 8, 8))
    assert_vmap_and_jit(lambda f, p: mesh.readout(f, p, 40.0, scheme="tsc"), fields, pos)
    assert_vmap_and_jit(lambda f: mesh.gradient(f, 40.0, kind="fd4"), fields, atol=1e-5)
    assert_vmap_and_jit(lambda f: mesh.compensate(jnp.fft.rfftn(f), (8, 8, 8), "cic"), fields, atol=1e-5)
