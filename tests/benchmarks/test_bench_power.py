import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_bench_power_quick_runs_and_prints_json():
    out = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "bench_power.py"), "--quick"],
        capture_output=True, text=True, check=True, timeout=600,
    )
    records = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    by_name = {r["bench"]: r for r in records}
    assert by_name["machine"]["backend"] in ("cpu", "gpu", "tpu")
    assert by_name["power_spectrum"]["mesh"] == 32 and by_name["power_spectrum"]["seconds"] > 0
    assert by_name["gaussian_field"]["cells_per_second"] > 0
    assert by_name["linear_power"]["n_k"] == 256
