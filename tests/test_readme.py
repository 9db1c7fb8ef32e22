"""The README's Python examples run as shown, in order, in one namespace."""

import os
import re

import matplotlib

matplotlib.use("Agg")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_readme_python_blocks_run():
    text = open(os.path.join(ROOT, "README.md")).read()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 4
    namespace: dict = {}
    for i, block in enumerate(blocks):
        try:
            exec(compile(block, f"README.md python block {i}", "exec"), namespace)
        except Exception as err:  # report which block failed
            raise AssertionError(f"README python block {i} failed: {err!r}\n{block}") from err
    # The IMNN example claims the analytic Fisher information of its toy, n / (2 theta^2) = 5,
    # within the scatter of a 1000-simulation estimate (about 5%): hold it to 10%.
    fisher = float(namespace["stats"].F[0, 0])
    assert abs(fisher - 5.0) < 0.5, fisher
