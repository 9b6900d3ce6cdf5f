"""Handlers of the traced worker tests: importing this module gives the
worker process an OpenTelemetry SDK that writes each finished span as a JSON
line to $DQ_TEST_SPANS, as a collector would receive them."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)


class FileExporter(SpanExporter):
    def __init__(self, path: str) -> None:
        self.path = path

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with open(self.path, "a", encoding="utf-8") as out:
            for span in spans:
                out.write(
                    json.dumps(
                        {
                            "name": span.name,
                            "trace_id": trace.format_trace_id(span.context.trace_id),
                            "span_id": trace.format_span_id(span.context.span_id),
                            "parent_id": None
                            if span.parent is None
                            else trace.format_span_id(span.parent.span_id),
                            "attributes": dict(span.attributes or {}),
                        }
                    )
                    + "\n"
                )
        return SpanExportResult.SUCCESS


provider = TracerProvider()
provider.add_span_processor(
    SimpleSpanProcessor(FileExporter(os.environ["DQ_TEST_SPANS"]))
)
trace.set_tracer_provider(provider)


def send(payload: Any) -> None:
    logging.getLogger("app").warning("sending to %s", payload["to"])


def broken(payload: Any) -> None:
    raise ValueError("smtp down")


handlers = {"send": send, "broken": broken}
