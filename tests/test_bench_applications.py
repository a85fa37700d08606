"""bench/super_resolution.py and bench/domain_adaptation.py run end to end (--quick, tiny models)."""

import os
import subprocess
import sys

import pytest
from conftest import REPO


@pytest.mark.slow
@pytest.mark.parametrize("script, expected", [
    ("super_resolution.py", ["| bicubic |", "| content only |", "| SRGAN |"]),
    ("domain_adaptation.py", ["| source only |", "| adapted (CycleGAN) |", "| target (oracle) |"]),
])
def test_bench_quick_run_prints_its_table(script, expected):
    extra = ["--seeds", "0", "--classifier-epochs", "1"] if script.startswith("domain") else []
    result = subprocess.run([sys.executable, os.path.join(REPO, "bench", script), "--quick", *extra],
                            capture_output=True, text=True, timeout=600, cwd=REPO,
                            env=dict(os.environ, PYTHONPATH=REPO, MPLBACKEND="Agg"))
    assert result.returncode == 0, result.stderr[-3000:]
    for row in expected:
        assert row in result.stdout
