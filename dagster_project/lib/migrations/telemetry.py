"""OpenTelemetry spans and structured JSON logs for migration runs.

One span per run (`migrate.<command>`) and one child span per migration, with version, slug,
target, direction, duration and status attributes. Exporter: one compact JSON line per span on
stderr by default; OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set; nothing with `none`.
Logs are JSON lines on stderr so stdout stays clean for `--json` output.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import Status, StatusCode

LOGGER_NAME = "platform.migrations"
_provider: TracerProvider | None = None


class JsonLineSpanExporter(SpanExporter):
    """The console exporter, one JSON object per line (the SDK's is pretty-printed, multi-line)."""

    def __init__(self, stream=None) -> None:
        self._stream = stream

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        stream = self._stream or sys.stderr
        for span in spans:
            record = {
                "type": "span",
                "name": span.name,
                "trace_id": format(span.context.trace_id, "032x"),
                "span_id": format(span.context.span_id, "016x"),
                "parent_id": format(span.parent.span_id, "016x") if span.parent else None,
                "duration_ms": round((span.end_time - span.start_time) / 1e6, 3),
                "status": span.status.status_code.name,
                "attributes": dict(span.attributes or {}),
            }
            stream.write(json.dumps(record, default=str) + "\n")
        stream.flush()
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:  # nothing buffered
        return None


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        payload.update(getattr(record, "fields", {}))
        return json.dumps(payload, default=str)


def configure(exporter: str = "console", service_name: str = "platform-migrations") -> None:
    """Install the tracer provider and JSON logging once per process."""
    global _provider
    if _provider is not None:
        return
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", service_name)})
    provider = TracerProvider(resource=resource)
    span_exporter = _choose_exporter(exporter)
    if span_exporter is not None:
        # Simple (synchronous) processor: a CLI run is short and must not lose spans at exit.
        provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    _provider = provider
    logger = logging.getLogger(LOGGER_NAME)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_JsonFormatter())
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    if exporter == "none":
        logger.setLevel(logging.WARNING)


def _choose_exporter(exporter: str) -> SpanExporter | None:
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()  # reads endpoint and headers from the OTEL_* variables
    if exporter == "none":
        return None
    return JsonLineSpanExporter()


def tracer() -> trace.Tracer:
    if _provider is None:
        configure()
    assert _provider is not None
    return _provider.get_tracer(LOGGER_NAME)


def log(event: str, level: int = logging.INFO, **fields: Any) -> None:
    if _provider is None:
        configure()
    logging.getLogger(LOGGER_NAME).log(level, event, extra={"fields": fields})


@contextmanager
def span(name: str, **attributes: Any) -> Iterator[trace.Span]:
    """A span that records duration and ok/error status, and re-raises errors."""
    started = time.monotonic()
    with tracer().start_as_current_span(name, record_exception=False) as current:
        for key, value in attributes.items():
            if value is not None:
                current.set_attribute(key, value)
        try:
            yield current
        except BaseException as exc:
            current.set_attribute("status", "error")
            current.set_attribute("error", str(exc)[:500])
            current.set_status(Status(StatusCode.ERROR, str(exc)[:200]))
            raise
        finally:
            current.set_attribute("duration_ms", round((time.monotonic() - started) * 1000, 3))
        current.set_attribute("status", "ok")
        current.set_status(Status(StatusCode.OK))
