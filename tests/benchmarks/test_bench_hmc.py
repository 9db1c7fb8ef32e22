"""Run benchmarks/bench_hmc.py --quick and check its JSON lines."""

import math


def test_bench_hmc_quick(run_benchmark):
    records = run_benchmark("bench_hmc.py", "--quick")
    assert records[0]["record"] == "machine"
    runs = {r["backend"]: r for r in records if r["record"] == "hmc"}
    assert set(runs) == {"blackjax", "numpyro"}
    for r in runs.values():
        assert r["n"] == 16 and r["chains"] == 1 and r["chain_method"] == "vectorized" and r["dynamics"] == "lpt" and r["scheme"] == "cic"
        assert r["seconds"] > 0 and math.isfinite(r["max_rhat"]) and r["min_ess"] > 0
        assert 1.0 <= r["mean_leapfrog_steps"] <= 31.0  # --quick caps the tree depth at 5
        assert r["gradient_evaluations"] == round(r["mean_leapfrog_steps"] * r["draws"] * r["chains"])
        assert math.isclose(r["ess_per_1000_gradients"], 1000.0 * r["min_ess"] / r["gradient_evaluations"])
        assert 0.0 <= r["rate_coverage_95"] <= 1.0 and r["sigma8_95"][0] < r["sigma8_95"][1]
    # both backends sample one posterior: their sigma8 means agree within the posterior width
    width = runs["blackjax"]["sigma8_95"][1] - runs["blackjax"]["sigma8_95"][0]
    assert abs(runs["blackjax"]["sigma8_mean"] - runs["numpyro"]["sigma8_mean"]) < 0.25 * width
