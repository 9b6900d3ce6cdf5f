"""A throwaway Redis Cluster on loopback: three masters and three replicas
from the installed ``redis-server``, created with ``redis-cli --cluster
create`` and stopped by the process ids it started."""

from __future__ import annotations

import ctypes
import random
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

NODES = 6
# Short, so that a killed master is replaced within seconds.
NODE_TIMEOUT_MS = 1500
BUS_PORT_OFFSET = 10000
PR_SET_PDEATHSIG = 1


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_ports() -> list[int]:
    """Six ports whose cluster-bus ports (+10000) are free as well."""
    for _ in range(50):
        first = random.randrange(20000, 25000)
        ports = list(range(first, first + NODES))
        if all(_free(p) and _free(p + BUS_PORT_OFFSET) for p in ports):
            return ports
    raise RuntimeError("no six free loopback ports for the Redis Cluster")


def _die_with_parent() -> None:
    """In the node's process: a SIGKILL when the process that started it
    dies, so that a test run killed outright leaves no node behind (Linux)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _cli(port: int, *args: str, timeout: float = 10) -> str:
    done = subprocess.run(
        ["redis-cli", "-h", "127.0.0.1", "-p", str(port), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return done.stdout.strip()


class LocalCluster:
    def __init__(self, directory: Path) -> None:
        if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
            raise RuntimeError(
                "the Redis Cluster tests need redis-server and redis-cli: "
                "apt-get install redis-server"
            )
        self.directory = directory
        self.ports = _free_ports()
        self.processes: dict[int, subprocess.Popen[bytes]] = {}

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in self.ports)

    def start(self) -> None:
        for port in self.ports:
            self.start_node(port)
        create = subprocess.run(
            [
                "redis-cli",
                "--cluster",
                "create",
                *(f"127.0.0.1:{p}" for p in self.ports),
                "--cluster-replicas",
                "1",
                "--cluster-yes",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if create.returncode != 0:
            self.stop()
            raise RuntimeError(f"redis-cli --cluster create failed: {create.stdout}")
        self.wait_healthy()

    def start_node(self, port: int) -> None:
        """Start (or restart) one node; its data and cluster state live in its
        own directory, so a restarted node comes back as what it was."""
        folder = self.directory / str(port)
        folder.mkdir(exist_ok=True)
        self.processes[port] = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--dir",
                str(folder),
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                str(NODE_TIMEOUT_MS),
                "--appendonly",
                "yes",
                "--save",
                "",
                "--logfile",
                "redis.log",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        self._wait(lambda: _cli(port, "PING") == "PONG", f"node {port} to start")

    def kill(self, port: int) -> None:
        process = self.processes.pop(port)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def masters(self) -> list[int]:
        """The ports of the nodes that are masters now, as a live node sees it."""
        live = next(iter(self.processes))
        found = []
        for line in _cli(live, "CLUSTER", "NODES").splitlines():
            fields = line.split()
            if "master" in fields[2] and "fail" not in fields[2]:
                found.append(int(fields[1].split("@")[0].rsplit(":", 1)[1]))
        return sorted(found)

    def replica_of(self, master: int) -> int:
        """The port of a replica of ``master``."""
        master_id = _cli(master, "CLUSTER", "MYID")
        for line in _cli(master, "CLUSTER", "NODES").splitlines():
            fields = line.split()
            if fields[3] == master_id and "fail" not in fields[2]:
                return int(fields[1].split("@")[0].rsplit(":", 1)[1])
        raise RuntimeError(f"master {master} has no replica")

    def master_of_slot(self, slot: int) -> int:
        live = next(iter(self.processes))
        for line in _cli(live, "CLUSTER", "NODES").splitlines():
            fields = line.split()
            if "master" not in fields[2] or "fail" in fields[2]:
                continue
            for part in fields[8:]:
                low, _, high = part.partition("-")
                if low.isdigit() and int(low) <= slot <= int(high or low):
                    return int(fields[1].split("@")[0].rsplit(":", 1)[1])
        raise RuntimeError(f"no master serves slot {slot}")

    def wait_replicated(self, master: int, replica: int) -> None:
        """Until ``replica`` has every write ``master`` had when called."""

        def offset(port: int, field: str) -> int:
            for line in _cli(port, "INFO", "replication").splitlines():
                name, _, value = line.partition(":")
                if name == field:
                    return int(value)
            return -1

        written = offset(master, "master_repl_offset")
        self._wait(
            lambda: offset(replica, "slave_repl_offset") >= written,
            f"replica {replica} to catch up with {master}",
        )

    def wait_healthy(self) -> None:
        """Until every live node says the cluster is ok and sees three masters."""

        def healthy() -> bool:
            return (
                all(
                    "cluster_state:ok" in _cli(p, "CLUSTER", "INFO")
                    for p in self.processes
                )
                and len(self.masters()) == NODES // 2
            )

        self._wait(healthy, "the cluster to be healthy", timeout=60)

    @staticmethod
    def _wait(check: Callable[[], bool], what: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out waiting for {what}")
            time.sleep(0.1)

    def stop(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()
