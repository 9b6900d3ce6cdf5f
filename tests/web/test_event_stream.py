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

from dataqueue.web import ServerSentEvent, event_stream
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
