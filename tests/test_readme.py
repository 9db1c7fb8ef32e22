"""The README's Python examples: each section runs alone, in a fresh namespace, as a reader
who copies one section would run it."""

import os
import re

import matplotlib
import pytest

matplotlib.use("Agg")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BLOCKS = re.findall(r"```python\n(.*?)```", open(os.path.join(ROOT, "README.md")).read(), flags=re.S)


def test_the_readme_has_its_sections():
    assert len(BLOCKS) >= 8


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_block_runs_alone(index):
    namespace: dict = {}
    exec(compile(BLOCKS[index], f"README.md python block {index}", "exec"), namespace)
    if "fit_imnn" in BLOCKS[index]:
        # The IMNN example claims the analytic Fisher information of its toy, n / (2 theta^2) = 5,
        # within the scatter of a 1000-simulation estimate (about 5%): hold it to 10%.
        fisher = float(namespace["stats"].F[0, 0])
        assert abs(fisher - 5.0) < 0.5, fisher
