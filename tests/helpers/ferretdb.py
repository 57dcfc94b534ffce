"""Start and stop a throwaway PostgreSQL cluster and a FerretDB in front of it, on loopback.

Used by tests (`start()` returns a handle whose `stop()` ends both) and by .ci/run:

    python -m tests.helpers.ferretdb start DIR   # prints the mongodb:// URI; state kept in DIR
    python -m tests.helpers.ferretdb stop DIR

Everything listens on 127.0.0.1 on free ports, lives in one temporary directory and is bounded
in time. PostgreSQL refuses to run as root, so as root (CI) its processes run as the `postgres`
user, which then owns the directory.
"""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = ROOT / "scripts" / "ferretdb-build.sh"
PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
START_TIMEOUT = 60  # seconds, for each server to start answering
STOP_TIMEOUT = 20


class Unavailable(RuntimeError):
    """A binary these servers need is not installed (tests skip with this as the reason)."""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ferretdb_binary(build=False):
    """The FerretDB binary: $FERRETDB_BIN, else the cached build (made first when `build`)."""
    explicit = os.environ.get("FERRETDB_BIN")
    if explicit:
        if not os.access(explicit, os.X_OK):
            raise Unavailable(f"FERRETDB_BIN={explicit} is not an executable")
        return explicit
    if not build:
        # The path the build script would print, without building: the script with no Go and
        # no cached binary fails, which means "unavailable".
        env = dict(os.environ, FERRETDB_NO_BUILD="1")
    else:
        env = os.environ
    result = subprocess.run(
        ["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, env=env, timeout=1800
    )
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise Unavailable(f"FerretDB is not available (scripts/ferretdb-build.sh): {reason}")
    return result.stdout.strip().splitlines()[-1]


def _as_postgres():
    """The command prefix that runs a PostgreSQL program as a user it accepts."""
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", "postgres", "--"]


class Postgres:
    """A PostgreSQL cluster in `directory`/pg, trust auth, listening on 127.0.0.1:`port`."""

    def __init__(self, directory):
        self.directory = Path(directory)
        self.data = self.directory / "pg"
        self.port = None

    def start(self):
        if not (PG_BIN / "initdb").exists():
            raise Unavailable(f"PostgreSQL is not installed ({PG_BIN}/initdb missing)")
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.directory, owner.pw_uid, owner.pw_gid)
        self.port = free_port()
        _run(
            _as_postgres()
            + [str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
               "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"],
        )
        # Test data only: durability settings off make every write several times cheaper.
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self.directory} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._pg_ctl("start", "-w", "-t", str(START_TIMEOUT), "-o", options,
                     "-l", str(self.directory / "postgres.log"))
        _run(_as_postgres() + [str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                               "-U", "postgres", "ferretdb"])
        return self

    @property
    def url(self):
        return f"postgres://postgres@127.0.0.1:{self.port}/ferretdb"

    def vacuum(self):
        """VACUUM every table: after deleting many rows (bench/fixed_data.py), so that scans do
        not wade through dead ones, nor autovacuum run in the middle of the next measurement."""
        _run([str(PG_BIN / "vacuumdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
              "--quiet", "ferretdb"])

    def stop(self):
        if (self.data / "postmaster.pid").exists():
            self._pg_ctl("stop", "-m", "immediate", "-w", "-t", str(STOP_TIMEOUT), check=False)

    def _pg_ctl(self, *args, check=True):
        _run(_as_postgres() + [str(PG_BIN / "pg_ctl"), "-D", str(self.data), *args], check=check)


class FerretDB:
    """A FerretDB process on 127.0.0.1:`port` using `postgres` as its backend."""

    def __init__(self, directory, postgresql_url, binary=None):
        self.directory = Path(directory)
        self.postgresql_url = postgresql_url
        self.binary = binary or ferretdb_binary()
        self.port = free_port()
        self.process = None

    @property
    def uri(self):
        return f"mongodb://127.0.0.1:{self.port}/"

    def start(self, wait=True):
        """Start (or start again, on the same port) the process; wait until it answers."""
        state = self.directory / "ferretdb-state"
        state.mkdir(exist_ok=True)
        log = open(self.directory / "ferretdb.log", "ab")
        self.process = subprocess.Popen(
            [
                self.binary,
                "--handler=postgresql",
                f"--postgresql-url={self.postgresql_url}",
                f"--listen-addr=127.0.0.1:{self.port}",
                f"--debug-addr=127.0.0.1:{free_port()}",  # its default 8088 would collide
                f"--state-dir={state}",
                "--telemetry=disable",
                "--log-level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C meant for pytest is handled by stop()
        )
        log.close()
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=START_TIMEOUT):
        import pymongo

        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"FerretDB exited with {self.process.returncode}: {self.log_tail()}"
                )
            client = pymongo.MongoClient(self.uri, serverSelectionTimeoutMS=500,
                                         connectTimeoutMS=500)
            try:
                client.admin.command("ping")
                return
            except pymongo.errors.PyMongoError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"FerretDB did not answer within {timeout}s: {self.log_tail()}"
                    ) from None
                time.sleep(0.1)
            finally:
                client.close()

    def stop(self):
        """End the process (SIGTERM, then SIGKILL after a bound); the port is free afterwards."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(STOP_TIMEOUT)

    def log_tail(self, lines=20):
        path = self.directory / "ferretdb.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


class Servers:
    """PostgreSQL + FerretDB in one temporary directory; `stop()` ends both and removes it."""

    def __init__(self, directory=None, keep_directory=False):
        self.directory = Path(directory or tempfile.mkdtemp(prefix="chatapp-ferretdb-"))
        self.directory.mkdir(parents=True, exist_ok=True)
        self.keep_directory = keep_directory
        self.postgres = Postgres(self.directory)
        self.ferretdb = None

    @property
    def uri(self):
        return self.ferretdb.uri

    def start(self, binary=None):
        try:
            binary = binary or ferretdb_binary()
            self.postgres.start()
            self.ferretdb = FerretDB(self.directory, self.postgres.url, binary).start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        try:
            if self.ferretdb is not None:
                self.ferretdb.stop()
        finally:
            self.postgres.stop()
            if not self.keep_directory:
                shutil.rmtree(self.directory, ignore_errors=True)


def start(directory=None):
    """Start PostgreSQL and FerretDB; the handle's `uri` is FerretDB's, `stop()` ends both."""
    return Servers(directory).start()


def _run(command, check=True):
    result = subprocess.run(command, capture_output=True, text=True, timeout=START_TIMEOUT,
                            stdin=subprocess.DEVNULL)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}): "
                           f"{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return result


def main(argv):
    """`start DIR` (prints the URI; FerretDB keeps running) or `stop DIR`."""
    if len(argv) != 2 or argv[0] not in ("start", "stop"):
        print("usage: python -m tests.helpers.ferretdb start|stop DIR", file=sys.stderr)
        return 2
    command, directory = argv[0], Path(argv[1]).resolve()
    pidfile = directory / "ferretdb.pid"
    if command == "start":
        directory.mkdir(parents=True, exist_ok=True)
        servers = Servers(directory, keep_directory=True)
        servers.start(binary=ferretdb_binary(build=True))
        pidfile.write_text(f"{servers.ferretdb.process.pid}\n")
        print(servers.uri)
        return 0
    if pidfile.exists():
        pid = int(pidfile.read_text())
        try:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_TIMEOUT
            while time.monotonic() < deadline:
                os.kill(pid, 0)
                time.sleep(0.1)
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        pidfile.unlink()
    Postgres(directory).stop()
    shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
