"""Connecting: a pooled client from a ``redis://`` URL (TLS from PEM text or
files), or a Redis Cluster (or Valkey cluster) client from a
``redis+cluster://`` URL.

A queue's keys share one hash tag (``keys.base``), so the cluster client only
routes: each script goes to the master of its queue's slot, and redis-py
follows MOVED replies and refreshes its map of the cluster after a failover.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.connection import SSLConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from dataqueue._redact import redact

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
            f"/{database} in {redact(url)}"
        )
    nodes: list[tuple[str, int]] = []
    for node in hosts.split(","):
        host, _, port = node.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(
                "connect: cluster URLs look like "
                "redis+cluster://host:port,host:port, got "
                f"{redact(url)} (node {node.strip()!r})"
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


HEALTH_CHECK_SECONDS = 5
TLS_KEYS = frozenset({"ca", "cert", "key", "reject_unauthorized"})


def pem_source(value: str) -> tuple[str | None, str | None]:
    """``(path, None)`` for ``file://path``, else ``(None, pem_text)``."""
    if value.startswith("file://"):
        return value.removeprefix("file://"), None
    return None, value


def tls_options(tls: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """redis-py SSL arguments for the ``tls=`` mapping, and the temporary files
    written for PEM strings (redis-py takes the certificate and key only as
    paths); the caller deletes those files when done."""
    unknown = set(tls) - TLS_KEYS
    if unknown:
        raise ValueError(
            f"connect: unknown tls option(s) {sorted(unknown)}; "
            f"use {', '.join(sorted(TLS_KEYS))}"
        )
    options: dict[str, Any] = {"connection_class": SSLConnection}
    created: list[str] = []
    if tls.get("ca"):
        path, pem = pem_source(tls["ca"])
        if path is not None:
            with open(path, encoding="utf-8") as file:
                pem = file.read()
        options["ssl_ca_data"] = pem
    for name, option in (("cert", "ssl_certfile"), ("key", "ssl_keyfile")):
        if tls.get(name):
            path, pem = pem_source(tls[name])
            if pem is not None:
                descriptor, path = tempfile.mkstemp(suffix=".pem")
                with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                    file.write(pem)
                created.append(path)
            options[option] = path
    if tls.get("reject_unauthorized", True):
        options["ssl_cert_reqs"] = "required"
    else:
        options["ssl_cert_reqs"] = "none"
        options["ssl_check_hostname"] = False
    return options, created


def pooled_client(
    url: str, max_connections: int, options: dict[str, Any]
) -> aioredis.Redis:
    # A blocking pool makes callers wait for a free connection instead of
    # failing with "Too many connections". A connection found dead (by the
    # health check's PING, or by the command itself) is replaced and the
    # call sent once more: after a restart the first call succeeds instead
    # of failing per pooled connection. Timeouts are not retried, as the
    # server may have run the script.
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        decode_responses=True,
        health_check_interval=HEALTH_CHECK_SECONDS,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        **options,
    )
    return aioredis.Redis.from_pool(pool)
