def test_bench_paircounts_quick_runs_and_prints_json(run_benchmark):
    records = run_benchmark("bench_paircounts.py", "--quick")
    machine = [r for r in records if r["bench"] == "machine"][0]
    assert machine["backend"] in ("cpu", "gpu", "tpu") and machine["threads"] >= 1
    pairs = [r for r in records if r["bench"] == "pair_counts"]
    assert [r["n"] for r in pairs] == [2000, 5000]
    for r in pairs:
        assert r["pairs"] > 0 and r["pairs_per_second"] > 0 and r["peak_memory_bytes"] > 0
        assert r["pairs_evaluated"] >= r["pairs"]
        # each peer is either compared (with identical counts) or reported missing
        if "corrfunc_seconds" in r:
            assert r["corrfunc_max_count_difference"] == 0 and r["ratio_corrfunc"] > 0
        else:
            assert r["corrfunc"] == "not installed"
        if "treecorr_seconds" in r:
            assert r["treecorr_max_count_difference"] == 0
        else:
            assert r["treecorr"] == "not installed"
    # a uniform catalogue: pairs within r_max close to N^2/2 * 4/3 pi r^3 / V
    r = pairs[1]
    r_max = r["r_max_mpc_h"]
    shell = 4.0 / 3.0 * 3.141592653589793 * (r_max**3 - (r_max / 20) ** 3)
    expect = 0.5 * r["n"] ** 2 * shell / r["box_mpc_h"] ** 3
    assert abs(r["pairs"] / expect - 1.0) < 0.05
    tri = [r for r in records if r["bench"] == "triplet_counts"][0]
    assert tri["triangles"] > 0 and tri["seconds"] > 0
    dev = [r for r in records if r["bench"] == "pair_counts_devices"]
    assert dev[0]["devices"] == 1 and all(r["counts_equal_to_one_device"] for r in dev)
