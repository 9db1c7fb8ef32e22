"""benchmarks/bench_pm.py --quick runs and prints well-formed JSON lines."""


def test_bench_pm_quick_prints_json_lines(run_benchmark):
    records = [r for r in run_benchmark("bench_pm.py", "--quick", "--steps", "3") if "code" in r]
    ours = [r for r in records if r["code"] == "cosmojax"]
    assert len(ours) == 1
    r = ours[0]
    assert r["mesh"] == 32 and r["steps"] == 3 and r["backend"] == jax_backend()
    for key in ("forward_s_per_step", "gradient_s_per_step"):
        assert 0 < r[key] < 60
    assert r["gradient_peak_bytes"] > r["forward_peak_bytes"] > 32**3 * 3 * 4
    peers = [r for r in records if r["code"] == "jaxpm"]
    assert len(peers) == 1
    if "skipped" not in peers[0]:
        ratio = peers[0]["pk_ratio_to_cosmojax"]
        # the same ICs and steps: the two P(k) agree to tens of percent on large scales
        assert 0.7 < ratio[0] < 1.3


def test_bench_pm_fidelity_prints_the_ratio_table(run_benchmark):
    records = [r for r in run_benchmark("bench_pm.py", "--fidelity", "--quick", "--steps", "3", "--no-peer")
               if r.get("test") == "fidelity"]
    # --quick: the default force (particle band) and the old one (every mesh mode), f = 2
    assert [(r["mesh"], r["force_factor"], r.get("force_band", "particle")) for r in records] == [
        (16, 2, "particle"), (16, 2, "mesh")]
    for r in records:
        # 16^3 in 32 Mpc/h: only bins above the fundamental and below half the particle Nyquist
        assert r["k"] and len(r["k"]) == len(r["ratio_to_halofit"]) == len(r["n_modes"])
        assert all(0.75 * 2 * 3.14159 / 32 <= k < 0.5 * 3.14159 * 16 / 32 for k in r["k"])
        assert all(0.3 < x < 3.0 for x in r["ratio_to_halofit"])


def jax_backend():
    import jax

    return jax.default_backend()


def test_fundamental_modes_grow_as_theory_in_the_box(run_benchmark):
    """64^3 in 128 Mpc/h, 10 steps, four paired-fixed pairs: the z = 0 power of the first bin
    (k = 0.063 h/Mpc, 18 modes) over linear x halofit's ratio, corrected by one-loop SPT for
    the modes the box holds (0.982 here), is 1 within 1% (16 pairs: 0.9991 +- 0.0016). The
    force before the particle band (every mesh mode) gave 0.924 / 0.982 = 0.94."""
    records = [r for r in run_benchmark("bench_pm.py", "--fidelity", "--mesh", "64", "--steps", "10", "--no-peer",
                                        "--default-force-only", "--realisations", "4")
               if r.get("test") == "fidelity"]
    assert len(records) == 1
    r = records[0]
    assert 0.975 < r["box_one_loop"][0] < 0.99
    assert abs(r["ratio_to_halofit_in_box"][0] - 1) < 0.01, r
    assert r["standard_error"][0] < 0.006
