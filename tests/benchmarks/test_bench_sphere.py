"""The sphere benchmark runs with --quick and prints well-formed JSON lines."""


def test_bench_sphere_quick(run_benchmark):
    rows = [r for r in run_benchmark("bench_sphere.py", "--quick", "--nside", "8", "--repeats", "1") if "nside" in r]
    assert [(r["nside"], r["pol"]) for r in rows] == [(8, False), (8, True)]
    for row in rows:
        assert row["backend"] in ("cpu", "gpu", "tpu")
        assert row["machine"]["cpu_count"] >= 1
        assert row["lmax"] == 23
        for field in ("cosmojax_synthesis_s", "cosmojax_analysis_s", "healpy_synthesis_s", "healpy_analysis_s"):
            assert row[field] > 0
        assert row["synthesis_ratio"] == row["cosmojax_synthesis_s"] / row["healpy_synthesis_s"]
        assert row["analysis_ratio"] == row["cosmojax_analysis_s"] / row["healpy_analysis_s"]
        assert row["synthesis_max_rel_diff"] < 1e-4  # float32 against healpy's float64
