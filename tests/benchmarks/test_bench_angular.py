"""Run benchmarks/bench_angular.py --quick and check its JSON lines."""

import math


def test_bench_angular_quick(run_benchmark):
    records = run_benchmark("bench_angular.py", "--quick")
    assert records[0]["record"] == "machine"
    (r,) = [r for r in records if r["record"] == "angular_3x2pt"]
    assert (r["source_bins"], r["lens_bins"], r["n_ell"], r["parameters"]) == (2, 2, 4, 6)
    assert r["data_vector"] == 10 * 4  # (4 * 5 / 2) pairs x 4 multipoles
    assert r["seconds"] > 0 and r["jacobian_seconds"] > 0 and r["peak_memory_bytes"] > 0
    if "ccl_seconds" in r:  # the test extra installs CCL: same spectra within its halofit's 3e-3
        assert r["ccl_max_rel_diff_autos"] < 3e-3
        assert math.isclose(r["ccl_over_cosmojax"], r["ccl_seconds"] / r["seconds"])
