"""PostgreSQL and RabbitMQ servers of a test's own, on other ports, for tests that restart or
kill them: the machine's shared servers are never touched.

PostgreSQL: ``initdb`` into a temporary folder and ``pg_ctl``, as the ``postgres`` user when
run as root (the server refuses to run as root). RabbitMQ: a node of its own
(``RABBITMQ_NODENAME``, ports, folders), started with ``rabbitmq-server``; or three such nodes
joined into a cluster (:class:`OwnRabbitMQCluster`) with ``rabbitmqctl join_cluster``.

Run as root, ``rabbitmq-server`` and ``rabbitmqctl`` switch to the ``rabbitmq`` user, whose
Erlang cookie (``/var/lib/rabbitmq/.erlang.cookie``) every node of the cluster and every
``rabbitmqctl`` then share; run as another user, that user's ``~/.erlang.cookie``.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not candidates:
        raise RuntimeError(f"{name} not found (install PostgreSQL's server package)")
    return candidates[-1]


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


class OwnPostgres:
    """A PostgreSQL cluster of the test's own; :meth:`restart` with ``fast`` or
    ``immediate`` (a crash: no checkpoint, recovery from the WAL at start)."""

    def __init__(self) -> None:
        self.port = free_port()
        self._root = Path(tempfile.mkdtemp(prefix="burnrate-pg-"))
        self.data = self._root / "data"
        self._log = self._root / "server.log"
        if os.geteuid() == 0:
            shutil.chown(self._root, "postgres")
        self._run(
            [_pg_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8"]
        )

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, args: list[str]) -> None:
        subprocess.run(_as_postgres(args), check=True, capture_output=True, timeout=120)

    def _ctl(self, *args: str) -> None:
        options = f"-p {self.port} -k {self._root} -c listen_addresses=127.0.0.1"
        self._run(
            [
                _pg_bin("pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self._log),
                "-o",
                options,
                "-w",
                *args,
            ]
        )

    def start(self) -> None:
        self._ctl("start")

    def stop(self, mode: str = "fast") -> None:
        self._ctl("-m", mode, "stop")

    def restart(self, mode: str = "fast") -> None:
        self._ctl("-m", mode, "restart")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.stop("immediate")
        shutil.rmtree(self._root, ignore_errors=True)


@contextlib.contextmanager
def own_postgres() -> Iterator[OwnPostgres]:
    server = OwnPostgres()
    server.start()
    try:
        yield server
    finally:
        server.close()


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, their children …), from ``/proc``."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    todo = list(children.get(pid, []))
    while todo:
        child = todo.pop()
        found.append(child)
        todo += children.get(child, [])
    return found


def _wait_gone(pid: int, seconds: float = 30) -> None:
    """Wait until ``pid`` has exited (a zombie counts as gone)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return
        if state == "Z":
            return
        time.sleep(0.05)


class OwnRabbitMQ:
    """A RabbitMQ node of the test's own (its own name, ports and folders); ``start`` again
    after ``kill`` brings it back on the same data (and into its cluster, if it was in one)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dist_port = free_port()
        self._root = Path(tempfile.mkdtemp(prefix="burnrate-rmq-"))
        self.node = f"burnrate-test-{self.port}@localhost"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def ctl(self, *args: str, timeout: float = 120) -> str:
        """``rabbitmqctl -n <this node> args…``; its output (raises if it fails)."""
        done = subprocess.run(
            ["rabbitmqctl", "-n", self.node, *args],
            env=self._env(),
            capture_output=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"rabbitmqctl {' '.join(args)} on {self.node} failed: "
                f"{(done.stdout + done.stderr).decode(errors='replace')[-2000:]}"
            )
        return done.stdout.decode(errors="replace")

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self._root / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self._root / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self._root / "enabled_plugins"),
            # its own config: the machine's may name the shared node's listener
            "RABBITMQ_CONFIG_FILE": str(self._root / "rabbitmq.conf"),
        }

    def start(self) -> None:
        (self._root / "enabled_plugins").write_text("[].\n")
        (self._root / "rabbitmq.conf").write_text(
            f"listeners.tcp.local = 127.0.0.1:{self.port}\nloopback_users = none\n"
        )
        if os.geteuid() == 0:  # the server runs as the rabbitmq user
            for path in [self._root, *self._root.iterdir()]:
                shutil.chown(path, "rabbitmq")
        with (self._root / "server.out").open("wb") as out:
            self._process = subprocess.Popen(
                ["rabbitmq-server"],
                env=self._env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 120
        while True:  # await_startup answers at once while the node is not up at all
            started = subprocess.run(
                ["rabbitmqctl", "-n", self.node, "await_startup", "--timeout", "60"],
                env=self._env(),
                capture_output=True,
                timeout=90,
            )
            if started.returncode == 0:
                return
            if self._process.poll() is not None or time.monotonic() > deadline:
                log = (self._root / "server.out").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"RabbitMQ node {self.node} did not start: {log}")
            time.sleep(0.5)

    def kill(self) -> None:
        """``kill -9`` of the whole node: every process under ``rabbitmq-server``.

        Not its process group alone: run as root, ``su`` starts the Erlang VM in a session
        of its own, which a kill of the group misses (the node would live on)."""
        if self._process is not None:
            victims = [self._process.pid, *descendants(self._process.pid)]
            for pid in victims:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self._process.wait(timeout=30)
            self._process = None
            for pid in victims:
                _wait_gone(pid)

    def close(self) -> None:
        if self._process is not None:
            with contextlib.suppress(Exception):
                subprocess.run(
                    ["rabbitmqctl", "-n", self.node, "stop"],
                    env=self._env(),
                    capture_output=True,
                    timeout=60,
                )
            with contextlib.suppress(Exception):
                self._process.wait(timeout=30)
            self.kill()
        shutil.rmtree(self._root, ignore_errors=True)


class OwnRabbitMQCluster:
    """Three (or ``size``) RabbitMQ nodes of the test's own, on their own ports, joined into one
    cluster: quorum queues declared once it is formed have a member on every node, so one
    node may die (``kill``) and the queues stay available on the majority."""

    def __init__(self, size: int = 3) -> None:
        if size < 1:
            raise ValueError("a cluster has at least one node")
        self.nodes = [OwnRabbitMQ() for _ in range(size)]

    @property
    def urls(self) -> list[str]:
        """One AMQP URL per node, in node order."""
        return [node.url for node in self.nodes]

    def start(self) -> None:
        first, *others = self.nodes
        first.start()
        for node in others:
            node.start()
            node.ctl("stop_app")
            node.ctl("reset")
            node.ctl("join_cluster", first.node)
            node.ctl("start_app")
        self.await_members(len(self.nodes))

    def running_nodes(self) -> list[str]:
        """The cluster's running nodes, as a live node sees them."""
        for node in self.nodes:
            if not node.running:
                continue
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                output = node.ctl("cluster_status", "--formatter", "json", timeout=30)
                status = json.loads(output)
                return sorted(str(name) for name in status.get("running_nodes", []))
        return []

    def await_members(self, count: int, seconds: float = 120) -> None:
        """Wait until ``count`` nodes run in the cluster."""
        deadline = time.monotonic() + seconds
        while len(self.running_nodes()) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"fewer than {count} running nodes: {self.running_nodes()}")
            time.sleep(0.5)

    def kill(self, index: int) -> None:
        """``kill -9`` of one node; the others carry on."""
        self.nodes[index].kill()

    def restart(self, index: int) -> None:
        """Start a killed node again on its data: it rejoins the cluster by itself."""
        self.nodes[index].start()
        self.await_members(sum(1 for node in self.nodes if node.running))

    def queues(self) -> dict[str, dict[str, Any]]:
        """Per quorum queue, as a live node's metadata has it: ``leader`` (a node name),
        ``members`` and ``online`` (lists of node names)."""
        for node in self.nodes:
            if not node.running:
                continue
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                output = node.ctl(
                    "list_queues", "name", "type", "leader", "members", "online",
                    "--formatter", "json", "-q", timeout=60,
                )  # fmt: skip
                rows: list[dict[str, Any]] = json.loads(output)
                return {str(r["name"]): r for r in rows if r.get("type") == "quorum"}
        return {}

    def close(self) -> None:
        for node in reversed(self.nodes):
            node.close()


@contextlib.contextmanager
def own_rabbitmq_cluster(size: int = 3) -> Iterator[OwnRabbitMQCluster]:
    cluster = OwnRabbitMQCluster(size)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.close()


def wait_for_port(port: int, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on port {port}")
