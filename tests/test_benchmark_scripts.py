"""The benchmark scripts run in their smallest mode (their figures are not checked here: docs/performance.md records
them, measured on a quiet machine). A script whose call sites fall behind an interface change fails here, not on the
day someone measures."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.slow
@pytest.mark.parametrize("script, args", [
    ("bench_attribution.py", ["--tiny"]),
    ("bench_attribution.py", ["--tiny", "--count"]),
    ("bench_any_model.py", ["--quick"]),
])
def test_a_benchmark_script_runs_in_its_smallest_mode(script, args, tmp_path):
    out = subprocess.run([sys.executable, str(BENCHMARKS / script), *args], cwd=tmp_path, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, f"{script} {' '.join(args)} failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}"
    assert out.stdout.strip(), f"{script} printed nothing"
