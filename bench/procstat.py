"""CPU and memory of the server worker(s), the load generator and the machine, from /proc.

The server's CPU is its worker's utime + stime (fields 14 and 15 of /proc/<pid>/stat), so it
counts every thread of the worker (bcrypt's pool included) and nothing of the gunicorn master.
"""

import os
import time

from tests.helpers.cluster import children

TICK = os.sysconf("SC_CLK_TCK")


def worker_pid(master_pid, timeout=10.0):
    """The pid of gunicorn's one worker (the master's only child)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = []
        for task in os.listdir(f"/proc/{master_pid}/task"):
            with open(f"/proc/{master_pid}/task/{task}/children") as f:
                children += f.read().split()
        if len(children) == 1:
            return int(children[0])
        time.sleep(0.05)
    raise RuntimeError(f"gunicorn master {master_pid} has no single worker")


class WorkerGone(Exception):
    """The worker measured exited (gunicorn kills a worker whose loop stalls past --timeout)."""


def process_cpu_seconds(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            # The command name may contain spaces: fields start after its closing parenthesis.
            fields = f.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        raise WorkerGone(f"worker {pid} exited") from None
    return (int(fields[11]) + int(fields[12])) / TICK


def process_rss_bytes(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except FileNotFoundError:
        raise WorkerGone(f"worker {pid} exited") from None
    return 0


def machine_busy_seconds():
    """CPU seconds all cores spent busy since boot (everyone's: other users' tests too)."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / TICK


class Meter:
    """CPU seconds used by the server, this load generator and everything else over a span."""

    def __init__(self, server_pid):
        self.server_pid = server_pid
        self.start()

    def start(self):
        self._wall = time.perf_counter()
        self._server = process_cpu_seconds(self.server_pid)
        self._self = time.process_time()
        self._machine = machine_busy_seconds()
        return self

    def read(self):
        wall = time.perf_counter() - self._wall
        server = process_cpu_seconds(self.server_pid) - self._server
        generator = time.process_time() - self._self
        machine = machine_busy_seconds() - self._machine
        return {
            "wall_s": round(wall, 3),
            "server_cpu_s": round(server, 3),
            "generator_cpu_s": round(generator, 3),
            # Other engineers' tests on the shared machine, and py-spy when profiling.
            "others_cpu_s": round(max(0.0, machine - server - generator), 3),
            "loadavg_1m": round(os.getloadavg()[0], 2),
        }


# --- several processes by role (bench/scale.py) ----------------------------------------------


def _cpu(pid, reaped=False):
    """utime + stime of `pid` (+ its reaped children's when `reaped`), seconds; 0 when gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if reaped:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / TICK


class ClusterGroups:
    """The processes of one configuration, by role: app, ferretdb, postgresql, redis, nginx."""

    def __init__(self, cluster, database):
        self.cluster = cluster
        self.database = database

    def cpu(self):
        out = {"app": sum(_cpu(pid) for pid in self.cluster.worker_pids().values())}
        if self.database is not None:
            out["ferretdb"] = _cpu(self.database.ferretdb.process.pid)
            pid_file = self.database.postgres.data / "postmaster.pid"
            postmaster = int(pid_file.read_text().split()[0])
            # Backends are the postmaster's children; ended ones count in its reaped time.
            out["postgresql"] = _cpu(postmaster, reaped=True) + sum(
                _cpu(child) for child in children(postmaster))
        if self.cluster.redis is not None:
            out["redis"] = _cpu(self.cluster.redis.process.pid)
        if self.cluster.nginx is not None:
            out["nginx"] = sum(_cpu(pid) for pid in self.cluster.nginx.worker_pids())
        out["generator"] = time.process_time()
        return out


class GroupMeter:
    """CPU seconds of each group of a ClusterGroups over a span, and of everything else."""

    def __init__(self, groups):
        self.groups = groups
        self.start = groups.cpu()
        self.wall = time.perf_counter()
        self.machine = machine_busy_seconds()

    def read(self):
        now = self.groups.cpu()
        out = {name: round(now[name] - self.start.get(name, 0.0), 3) for name in now}
        out["wall_s"] = round(time.perf_counter() - self.wall, 3)
        measured = sum(v for k, v in out.items() if k != "wall_s")
        out["others"] = round(max(0.0, machine_busy_seconds() - self.machine - measured), 3)
        return out
