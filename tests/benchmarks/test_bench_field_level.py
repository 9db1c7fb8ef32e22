"""Run benchmarks/bench_field_level.py --quick and check its JSON lines."""

import math


def test_bench_field_level_quick(run_benchmark):
    records = run_benchmark("bench_field_level.py", "--quick")
    assert records[0]["record"] == "machine"
    runs = {r["scheme"]: r for r in records if r["record"] == "field_hmc"}
    assert set(runs) == {"cic", "tsc"}
    for r in runs.values():
        assert r["n"] == 16 and r["num_chains"] == 1 and r["num_samples"] == 20
        assert r["seconds"] > 0 and 0 < r["acceptance"] <= 1 and r["step_size"] > 0
        assert math.isfinite(r["max_rhat_modes"]) and r["min_ess_modes"] > 0
        # even a short chain from the MAP keeps the large scales of the truth
        assert r["r_mean_min"] > 0.9 and r["r_draw_min"] > 0.8
    # CIC's kinks force a smaller leapfrog step than TSC's smooth kernel
    assert runs["cic"]["step_size"] < runs["tsc"]["step_size"]
