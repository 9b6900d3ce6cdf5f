"""Connecting to a Redis Cluster (or Valkey cluster) from a
``redis+cluster://`` URL.

A queue's keys share one hash tag (``keys.base``), so the cluster client only
routes: each script goes to the master of its queue's slot, and redis-py
follows MOVED replies and refreshes its map of the cluster after a failover.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import unquote

from redis.asyncio.cluster import ClusterNode, RedisCluster

from dataqueue.backends.redis.faults import redacted

CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")
SUBSCRIPTIONS = 2


def is_cluster_url(url: str) -> bool:
    return url.partition(":")[0].lower() in CLUSTER_SCHEMES


def cluster_nodes(url: str) -> tuple[list[tuple[str, int]], str | None, str | None]:
    """The startup nodes, username and password of a cluster URL:
    ``redis+cluster://[user:password@]host:port[,host:port...][/0]``."""
    rest = url.partition("://")[2]
    userinfo, _, hosts = rest.rpartition("@")
    hosts, _, database = hosts.partition("/")
    if database not in ("", "0"):
        raise ValueError(
            f"connect: a Redis Cluster has only database 0, got "
            f"/{database} in {redacted(url)}"
        )
    nodes: list[tuple[str, int]] = []
    for node in hosts.split(","):
        host, _, port = node.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(
                "connect: cluster URLs look like "
                "redis+cluster://host:port,host:port, got "
                f"{redacted(url)} (node {node.strip()!r})"
            )
        nodes.append((host.strip("[]"), int(port)))
    username, password = None, None
    if userinfo:
        name, has_password, secret = userinfo.partition(":")
        username = unquote(name) or None
        password = unquote(secret) if has_password else None
    return nodes, username, password


class _WaitingCluster(RedisCluster):
    """A cluster client whose callers wait for a free connection, as with
    the single server's blocking pool, instead of failing with
    ``MaxConnectionsError`` (each node's pool of redis-py never waits)."""

    def __init__(self, *, max_connections: int, **options: Any) -> None:
        # The subscriptions (wake-ups, finished jobs) hold a connection each
        # beside the commands.
        super().__init__(max_connections=max_connections + SUBSCRIPTIONS, **options)
        self._free = asyncio.Semaphore(max_connections)

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        async with self._free:
            return await super().execute_command(*args, **kwargs)


def cluster_client(
    url: str, *, max_connections: int, options: dict[str, Any]
) -> RedisCluster:
    """A cluster client for ``url``; ``options`` are the TLS arguments
    (``tls_options``): TLS is on for ``rediss+cluster://`` or when given."""
    nodes, username, password = cluster_nodes(url)
    tls = dict(options)
    tls.pop("connection_class", None)
    return _WaitingCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in nodes],
        username=username,
        password=password,
        decode_responses=True,
        max_connections=max_connections,
        ssl=url.lower().startswith("rediss+") or bool(tls),
        **tls,
    )
