"""A chat on several servers, as deployed: Redis, PostgreSQL + FerretDB, N gunicorn servers, nginx.

Everything listens on loopback on free ports and lives in one temporary directory; `stop()` ends
every process (the fixtures call it from a finalizer). Used by the fault tests and by `make bench`:

    cluster = Cluster(directory, servers=3).start()   # Unavailable: something is not installed
    cluster.url                                        # nginx, what clients talk to
    cluster.kill(0); cluster.restart(0); cluster.terminate(1)
    cluster.stop()

The database is TEST_MONGO_URI (bench: MONGO_URI) when set, else a FerretDB of our own
(tests/helpers/ferretdb.py); each cluster uses a database of its own name in it.
"""

import asyncio
import os
import shutil
import signal
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import redis

from tests.helpers.live_server import LiveServer, free_port
from tests.helpers.nginx import Nginx
from tests.helpers.nginx import Unavailable as NginxUnavailable

STOP_TIMEOUT = 10  # seconds


class Unavailable(RuntimeError):
    """A program the cluster needs is missing: redis-server, nginx or FerretDB (tests skip)."""


class Cluster:
    """`servers` gunicorn servers (one `worker`-class worker each) behind one nginx."""

    def __init__(
        self,
        directory=None,
        servers=3,
        worker="eventlet",
        env=None,
        mongo_uri=None,
        heartbeat=0.5,
        graceful_timeout=10,
        shared=True,
    ):
        """`shared=False`: one server alone, as without REDIS_URL (no Redis, no nginx)."""
        self.directory = Path(directory or tempfile.mkdtemp(prefix="chatapp-cluster-"))
        self.directory.mkdir(parents=True, exist_ok=True)
        self.directory.chmod(0o755)  # as root, PostgreSQL runs as `postgres` in a subdirectory
        self.count = servers
        self.worker = worker
        self.extra_env = dict(env or {})
        self.mongo_uri = mongo_uri or os.environ.get("TEST_MONGO_URI", "")
        self.heartbeat = heartbeat
        self.graceful_timeout = graceful_timeout
        self.shared = shared
        self.database_name = f"cluster_{uuid.uuid4().hex[:10]}"
        self.redis = None
        self.database = None  # our FerretDB + PostgreSQL, when no URI was given
        self.servers = []
        self.nginx = None

    # -- starting and stopping --

    def start(self):
        try:
            if self.shared:
                self._start_redis()
            self._start_database()
            ports = [free_port() for _ in range(self.count)]
            self.servers = [self._server(i, port) for i, port in enumerate(ports)]
            # In parallel: each spends a few seconds importing the app.
            with ThreadPoolExecutor(self.count) as pool:
                list(pool.map(lambda server: server.start(timeout=60), self.servers))
            if self.shared:
                self.nginx = Nginx(
                    [f"127.0.0.1:{port}" for port in ports], self.directory / "nginx"
                )
                self.nginx.start()
        except NginxUnavailable as error:
            self.stop()
            raise Unavailable(str(error)) from None
        except BaseException:
            self.stop()
            raise
        return self

    def _start_redis(self):
        from tests.helpers import redis_server

        try:
            self.redis = redis_server.RedisServer(self.directory / "redis").start()
        except redis_server.Unavailable as error:
            raise Unavailable(str(error)) from None

    def _start_database(self):
        if self.mongo_uri:
            return
        from tests.helpers import ferretdb

        try:
            self.database = ferretdb.Servers(self.directory / "database").start()
        except ferretdb.Unavailable as error:
            raise Unavailable(str(error)) from None
        self.mongo_uri = self.database.uri

    def _server(self, index, port):
        env = {
            "MONGO_URI": self.mongo_uri,
            "MONGO_DB_NAME": self.database_name,
            "REDIS_URL": self.redis.url if self.redis else "",
            "PRESENCE_HEARTBEAT_SECONDS": str(self.heartbeat),
            "TRUSTED_PROXY_HOPS": "1",  # nginx in front: limits key on the client's address
            "LOG_LEVEL": "INFO",
            **self.extra_env,
        }
        server = ClusterServer(
            self.worker, env=env, port=port, log_path=self.directory / f"server-{index}.log"
        )
        server.graceful_timeout = self.graceful_timeout
        return server

    def stop(self):
        """Stop everything that was started; bounded, and safe to call twice."""
        try:
            if self.nginx is not None:
                self.nginx.stop()
            for server in self.servers:
                server.stop()
            if self.redis is not None:
                self.redis.stop()
        finally:
            if self.database is not None:
                self.database.stop()
            elif self.mongo_uri and self.servers:
                _drop_database(self.mongo_uri, self.database_name)
            shutil.rmtree(self.directory, ignore_errors=True)

    # -- faults --

    def kill(self, index):
        """SIGKILL server `index`'s master and worker: nothing respawns it, nothing says goodbye."""
        server = self.servers[index]
        os.killpg(server.pid, signal.SIGKILL)
        server.process.wait(STOP_TIMEOUT)

    def terminate(self, index):
        """SIGTERM to server `index`'s gunicorn master, as a service manager stops it (no wait)."""
        os.kill(self.servers[index].pid, signal.SIGTERM)

    def wait_exited(self, index, timeout):
        """Seconds until server `index` has exited (raises TimeoutExpired past `timeout`)."""
        started = time.monotonic()
        self.servers[index].process.wait(timeout)
        return time.monotonic() - started

    def restart(self, index):
        """Start server `index` again on its port (after kill or terminate)."""
        server = self.servers[index]
        server.stop()
        server.restarts = getattr(server, "restarts", 0) + 1
        server.log_path = self.directory / f"server-{index}.{server.restarts}.log"  # keep the old
        server.start(timeout=60)

    def ensure_running(self):
        """Restart every server that is not running; and Redis, should it be stopped."""
        if self.redis.process is None or self.redis.process.poll() is not None:
            self.redis.start()
        for index, server in enumerate(self.servers):
            if server.process is None or server.process.poll() is not None:
                self.restart(index)

    @property
    def url(self):
        """Where clients go: nginx, or the one server when not shared."""
        return self.nginx.url if self.nginx is not None else self.servers[0].url

    # -- what the app holds --

    async def users_by_server_settled(self, users, timeout=10):
        """`users_by_server` once every one of `users` appears in it (presence is written as
        sockets connect), or as it is after `timeout` seconds."""
        ids = {user.id for user in users}
        deadline = time.monotonic() + timeout
        while True:
            held = self.users_by_server()
            if set().union(*held.values()) >= ids or time.monotonic() > deadline:
                return held
            await asyncio.sleep(0.1)

    def users_by_server(self):
        """{server index: ids of users with a socket there}, from the app's presence in Redis."""
        pids = {pid: index for index, pid in self.worker_pids().items()}
        client = redis.Redis.from_url(self.redis.url, decode_responses=True)
        try:
            held = {index: set() for index in range(len(self.servers))}
            for key in client.scan_iter("chatapp:presence:users:*"):
                # The worker id is host:pid:random (chatapp/realtime/shared_presence.py).
                pid = int(key.rsplit(":", 2)[-2])
                if pid in pids:
                    held[pids[pid]] |= client.smembers(key)
            return held
        finally:
            client.close()

    def worker_pids(self):
        """{server index: its gunicorn worker's pid} of the running servers."""
        return {
            index: child
            for index, server in enumerate(self.servers)
            for child in children(server.pid)
        }


class ClusterServer(LiveServer):
    """A LiveServer whose graceful timeout is the cluster's (drain tests need more than 3 s)."""

    graceful_timeout = 10

    def command(self):
        argv = super().command()
        argv[argv.index("--graceful-timeout") + 1] = str(self.graceful_timeout)
        return argv


def children(pid):
    """The ids of the processes `pid` started that are still running."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(child) for child in f.read().split()]
    except FileNotFoundError:
        return []


def _drop_database(uri, name):
    import pymongo

    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=3000)
    try:
        client.drop_database(name)
    except pymongo.errors.PyMongoError:
        pass  # a test database left behind is harmless; a failing finalizer is not
    finally:
        client.close()


def loopback_addresses(count, first=2):
    """`count` client source addresses 127.0.0.<first>...: nginx hashes each to a server."""
    if first + count > 255:
        raise ValueError("at most 253 client addresses on 127.0.0.x")
    return [f"127.0.0.{first + i}" for i in range(count)]
