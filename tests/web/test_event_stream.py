"""event_stream and ServerSentEvent on their own: heartbeats, the producer
closed when the client leaves, the wire format."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dataqueue.web import ServerSentEvent, StreamLimits, event_stream
from tests.conftest import eventually
from tests.web.conftest import received, served


def streaming(events: AsyncIterator[ServerSentEvent], heartbeat: float) -> Starlette:
    def endpoint(request: Request) -> Response:
        return event_stream(events, heartbeat_interval=heartbeat)

    return Starlette(routes=[Route("/events", endpoint)])


async def test_heartbeats_fill_the_silence_until_the_next_event() -> None:
    release = asyncio.Event()

    async def events() -> AsyncIterator[ServerSentEvent]:
        await release.wait()
        yield ServerSentEvent("done", event="job")

    async with (
        served(streaming(events(), heartbeat=0.02)) as client,
        client.stream("GET", "/events") as response,
    ):
        seen = []
        async for block in received(response):
            seen.append(block)
            if len(seen) == 3:
                release.set()
    assert [block.comment for block in seen[:3]] == ["heartbeat"] * 3
    assert (seen[-1].event, seen[-1].data) == ("job", "done")


async def test_a_client_that_leaves_stops_the_producer() -> None:
    stopped = asyncio.Event()

    async def events() -> AsyncIterator[ServerSentEvent]:
        try:
            yield ServerSentEvent("first")
            await asyncio.Event().wait()  # a watch that never ends by itself
            yield ServerSentEvent("never")
        finally:
            stopped.set()

    async with served(streaming(events(), heartbeat=0.02)) as client:
        async with client.stream("GET", "/events") as response:
            first = await anext(received(response))
        assert first.data == "first"
        # The next heartbeat finds the connection gone.
        await asyncio.wait_for(stopped.wait(), 10)


def test_an_event_is_written_as_the_event_stream_format_says() -> None:
    event = ServerSentEvent('{"a":1}', event="job", id="7")
    assert event.encode() == b'event: job\nid: 7\ndata: {"a":1}\n\n'


def test_every_line_of_the_data_gets_its_own_data_field() -> None:
    encoded = ServerSentEvent("one\ntwo\r\nthree\rfour").encode()
    assert encoded == b"data: one\ndata: two\ndata: three\ndata: four\n\n"


def test_a_line_break_in_a_name_or_id_is_refused() -> None:
    with pytest.raises(ValueError, match="one line"):
        ServerSentEvent("x", event="job\ndata: forged").encode()
    with pytest.raises(ValueError, match="one line"):
        ServerSentEvent("x", id="1\r2").encode()


async def test_a_client_that_stops_reading_is_dropped() -> None:
    """A client that never reads fills the socket; the stream gives up on it
    after ``send_timeout`` instead of holding its events (and store reads)
    for as long as the connection stays open."""
    closed = asyncio.Event()
    sent = 0

    async def endless() -> AsyncIterator[ServerSentEvent]:
        nonlocal sent
        chunk = "x" * 65536
        while True:
            sent += 1
            yield ServerSentEvent(chunk, event="job")

    def endpoint(request: Request) -> Response:
        return event_stream(endless(), on_close=closed.set, send_timeout=0.3)

    app = Starlette(routes=[Route("/events", endpoint)])
    async with served(app) as client:
        port = client.base_url.port
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        await writer.drain()
        try:
            # Never read: the server's buffers fill, then its send waits.
            await asyncio.wait_for(closed.wait(), 10)
        finally:
            writer.close()
    # It stopped producing once the socket was full: a bounded amount queued.
    assert sent < 1000


def from_client(host: str) -> Request:
    return Request({"type": "http", "client": (host, 40000), "headers": []})


def test_stream_limits_cap_the_app_and_each_client() -> None:
    limits = StreamLimits(3, 2, "test")
    a1, a2 = (
        limits.acquire(from_client("10.0.0.1")),
        limits.acquire(from_client("10.0.0.1")),
    )
    assert a1 is not None and a2 is not None
    assert limits.acquire(from_client("10.0.0.1")) is None  # this client is full
    b1 = limits.acquire(from_client("10.0.0.2"))
    assert b1 is not None
    assert limits.acquire(from_client("10.0.0.3")) is None  # the app is full
    a1()
    a1()  # releasing twice frees one slot only
    assert limits.acquire(from_client("10.0.0.3")) is not None
    assert limits.acquire(from_client("10.0.0.3")) is None
    with pytest.raises(ValueError, match="max_streams must be an int >= 1"):
        StreamLimits(0, 1, "test")


async def test_a_stream_gives_its_slot_back_when_the_client_leaves() -> None:
    limits = StreamLimits(10, 1, "test")
    hold = asyncio.Event()

    async def waiting() -> AsyncIterator[ServerSentEvent]:
        yield ServerSentEvent("open")
        await hold.wait()

    def endpoint(request: Request) -> Response:
        release = limits.acquire(request)
        if release is None:
            return Response(status_code=429)
        return event_stream(waiting(), on_close=release)

    app = Starlette(routes=[Route("/events", endpoint)])
    async with served(app) as client:
        first = await client.send(client.build_request("GET", "/events"), stream=True)
        refused = await client.get("/events")
        await first.aclose()

        async def slot_free() -> bool:
            return not limits.open

        await eventually(slot_free)
        again = await client.send(client.build_request("GET", "/events"), stream=True)
        hold.set()
        await again.aclose()
    assert (first.status_code, refused.status_code, again.status_code) == (
        200,
        429,
        200,
    )
