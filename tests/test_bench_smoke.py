"""The benchmark harness still runs end to end (tiny sizes; no timing is checked here)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.integration
def test_a_tiny_benchmark_run_completes_every_phase(tmp_path):
    out = tmp_path / "bench.json"
    args = [
        sys.executable, "-m", "bench", "--workers", "eventlet", "--users", "5",
        "--rates", "20", "--phase-seconds", "1", "--search-start", "40", "--search-probes", "1",
        "--search-seconds", "1", "--history-messages", "55", "--history-requests", "5",
        "--idle", "10", "--stall-seconds", "1", "--stall-logins", "2", "--bcrypt-rounds", "4",
        "--out", str(out),
    ]
    env = {**os.environ, "MONGO_URI": os.environ.get("TEST_MONGO_URI", "")}
    run = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(out.read_text())["results"][0]
    assert "error" not in result
    assert result["1_auth"]["register"]["count"] == 5
    assert result["2_connect"]["connected"] == 5
    assert result["3_messages"]["fixed"][0]["lost"] == 0
    assert result["4_history"]["errors"] == 0
    assert result["5_idle"]["succeeded"] == 10
    assert "| measure" in run.stdout
