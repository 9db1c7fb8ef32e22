"""Run benchmarks/bench_calibration.py --quick and check its JSON lines."""

import math


def test_bench_calibration_quick(run_benchmark):
    records = run_benchmark("bench_calibration.py", "--quick", "--per-trial")
    assert records[0]["record"] == "machine"
    per_parameter = [r for r in records if r["record"] == "calibration"]
    assert [r["parameter"] for r in per_parameter] == ["sigma8", "mean_rate", "rate_voxel_0"] + [f"weight_{i}" for i in range(7)]
    for r in per_parameter:
        assert r["trials"] == 2 and sum(r["rank_histogram"]) == 2
        coverage = [r["coverage"][level] for level in ("0.5", "0.68", "0.9", "0.95")]
        assert all(0.0 <= c <= 1.0 for c in coverage) and coverage == sorted(coverage)
        assert math.isfinite(r["rank_chi2"])
    (summary,) = [r for r in records if r["record"] == "calibration_run"]
    assert summary["seconds"] > 0 and 0.0 < summary["acceptance"] <= 1.0
    assert (summary["starts"], summary["modes"], summary["target_accept"]) == (4, 2, 0.8)
    assert 0 <= summary["trials_with_several_modes"] <= 2
    trials = [r for r in records if r["record"] == "trial"]
    assert [r["index"] for r in trials] == [0, 1]
    assert sum(r["divergences"] for r in trials) == summary["divergences"]
    for r in trials:
        assert len(r["true_weights"]) == len(r["quantile_weights"]) == len(r["posterior_sd_weights"]) == 7
        assert all(0.0 <= q <= 1.0 for q in [r["quantile_sigma8"]] + r["quantile_weights"])
        assert all(sd >= 0.0 for sd in r["posterior_sd_weights"]) and 1 <= r["modes_above_1pc"] <= 2
