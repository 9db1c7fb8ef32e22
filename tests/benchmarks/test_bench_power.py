def test_bench_power_quick_runs_and_prints_json(run_benchmark):
    records = run_benchmark("bench_power.py", "--quick")
    by_name = {r["bench"]: r for r in records}
    assert by_name["machine"]["backend"] in ("cpu", "gpu", "tpu")
    assert by_name["power_spectrum"]["mesh"] == 32 and by_name["power_spectrum"]["seconds"] > 0
    assert by_name["gaussian_field"]["cells_per_second"] > 0
    assert by_name["linear_power"]["n_k"] == 256
