"""Run benchmarks/bench_imnn.py --quick in a subprocess and check its JSON lines."""

import json
import math
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_bench_imnn_quick():
    out = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "bench_imnn.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=900,
        check=True,
        cwd=ROOT,
    )
    records = {r["record"]: r for r in (json.loads(line) for line in out.stdout.splitlines() if line.strip())}
    assert set(records) == {"machine", "variance_toy", "cnn_imnn_64"}
    machine = records["machine"]
    assert machine["backend"] in ("cpu", "gpu", "tpu") and machine["devices"]
    toy = records["variance_toy"]
    assert abs(toy["final_fisher"] - 5.0) < 0.25
    assert toy["seconds_to_within_5pct"] is not None and 0 < toy["seconds_to_within_5pct"] <= toy["train_seconds_total"]
    assert 0 < toy["steps_to_within_5pct"] <= toy["n_steps"]
    cnn = records["cnn_imnn_64"]
    assert cnn["field_shape"] == [64, 64]
    assert cnn["steps_per_second"] > 0 and math.isfinite(cnn["final_loss"])
