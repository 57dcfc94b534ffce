"""The benchmark harness still runs end to end (tiny sizes; no timing is checked here)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.helpers.missing import skip_unless_ci

ROOT = Path(__file__).resolve().parent.parent


def database_env():
    """The benchmark runs on TEST_MONGO_URI, else on a FerretDB it starts: skip without both."""
    if not os.environ.get("TEST_MONGO_URI"):
        from tests.helpers import ferretdb

        try:
            ferretdb.ferretdb_binary()
        except ferretdb.Unavailable as error:
            skip_unless_ci(f"the benchmark needs a real database: {error}")
    return {**os.environ, "MONGO_URI": os.environ.get("TEST_MONGO_URI", "")}


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
    env = database_env()
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


@pytest.mark.integration
def test_a_tiny_scale_out_run_measures_one_and_two_servers(tmp_path):
    for program in ("/usr/bin/redis-server", "/usr/sbin/nginx"):
        if not os.access(program, os.X_OK):
            skip_unless_ci(f"{program} is not installed")
    out = tmp_path / "scale.json"
    args = [
        sys.executable, "-m", "bench.scale", "--users", "6", "--contacts", "2", "--rates", "20",
        "--phase-seconds", "1", "--search-start", "20", "--search-probes", "1",
        "--search-seconds", "1", "--history", "3", "--out", str(out),
    ]
    run = subprocess.run(args, cwd=ROOT, env=database_env(), capture_output=True, text=True,
                         timeout=180)
    assert run.returncode == 0, run.stderr[-3000:]
    one, one_shared, two = json.loads(out.read_text())["results"]  # the default --configs 1,1r,2
    assert one["sockets_per_server"] == [6] and sum(two["sockets_per_server"]) == 6
    assert (one["shared"], one_shared["shared"], one_shared["servers"]) == (False, True, 1)
    for result in (one, one_shared, two):
        # Every phase started on the same data: 12 conversations of 3 messages (restore checks).
        assert result["messages_at_each_phase_start"] == 6 * 2 * 3
        assert result["fixed"][0]["lost"] == 0 and result["fixed"][0]["delivered"] > 0
        assert result["fixed"][0]["cpu"]["app"] > 0
        if not os.environ.get("TEST_MONGO_URI"):  # our own FerretDB: its CPU is shown apart
            assert {"ferretdb", "postgresql"} <= set(result["fixed"][0]["cpu"])
    for result in (one_shared, two):
        assert "redis" in result["fixed"][0]["cpu"] and "nginx" in result["fixed"][0]["cpu"]
    assert "| measure" in run.stdout
