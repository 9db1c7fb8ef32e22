"""Run a benchmark script with --quick in a subprocess and parse its JSON lines."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def run_benchmark():
    def run(name, *args, timeout=900):
        out = subprocess.run(
            [sys.executable, os.path.join(ROOT, "benchmarks", name), *args],
            capture_output=True, text=True, timeout=timeout,
        )
        assert out.returncode == 0, out.stderr[-3000:]
        return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]

    return run
