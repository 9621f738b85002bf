"""OpenTelemetry spans and structured JSON logs for migration runs.

One span per run (`migrate.<command>`) and one child span per migration, with version, slug,
target, direction, duration and status attributes. Span attributes and log fields pass through
`postgres.redact_text`: no password reaches a collector or a log.

Nothing here configures itself: until an entry point (`platformctl`'s migrate commands, the
Dagster migrations resource) calls `configure`, spans go nowhere and logs follow the process's
logging setup. `configure` picks the span exporter, first match wins:
  1. $OTEL_TRACES_EXPORTER (the OpenTelemetry variable): `console`, `otlp` or `none`;
  2. `otlp` when $OTEL_EXPORTER_OTLP_ENDPOINT is set;
  3. the caller's `exporter` (migrate.yaml `telemetry.exporter`, default `none`).
`console` writes one compact JSON line per span on stderr, so stdout stays clean for `--json`
output. JSON log lines go to stderr too: warnings and errors always, info only with spans on.
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

from dagster_project.lib.db.postgres import redact_text

LOGGER_NAME = "platform.migrations"
_provider: TracerProvider | None = None
_exporter = "none"


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


EXPORTERS = ("console", "otlp", "none")


def configure(exporter: str | None = None, service_name: str = "platform-migrations") -> str:
    """Install the tracer provider and JSON logging once per process (an entry point calls it).
    Returns the exporter in effect; a second call changes nothing."""
    global _provider, _exporter
    if _provider is not None:
        return _exporter
    chosen = _resolve_exporter(exporter)
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", service_name)})
    provider = TracerProvider(resource=resource)
    span_exporter = _make_exporter(chosen)
    if span_exporter is not None:
        # Simple (synchronous) processor: a CLI run is short and must not lose spans at exit.
        provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    _provider, _exporter = provider, chosen
    logger = logging.getLogger(LOGGER_NAME)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_JsonFormatter())
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(logging.WARNING if chosen == "none" else logging.INFO)
    return chosen


def _resolve_exporter(exporter: str | None) -> str:
    from_env = os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if from_env:
        chosen = from_env
    elif os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        chosen = "otlp"
    else:
        chosen = (exporter or "none").strip().lower()
    if chosen not in EXPORTERS:
        from dagster_project.lib.migrations.errors import ConfigError

        raise ConfigError(
            f"telemetry exporter {chosen!r} is not one of {', '.join(EXPORTERS)} "
            "(OTEL_TRACES_EXPORTER or migrate.yaml telemetry.exporter)"
        )
    return chosen


def _make_exporter(exporter: str) -> SpanExporter | None:
    if exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()  # reads endpoint and headers from the OTEL_* variables
    if exporter == "console":
        return JsonLineSpanExporter()
    return None


def tracer() -> trace.Tracer:
    """The configured tracer; a no-op one until an entry point called `configure`."""
    if _provider is None:
        return trace.NoOpTracer()
    return _provider.get_tracer(LOGGER_NAME)


def log(event: str, level: int = logging.INFO, **fields: Any) -> None:
    fields = {key: _safe(value) for key, value in fields.items()}
    logging.getLogger(LOGGER_NAME).log(level, event, extra={"fields": fields})


def _safe(value: Any) -> Any:
    return redact_text(value) if isinstance(value, str) else value


@contextmanager
def span(name: str, **attributes: Any) -> Iterator[trace.Span]:
    """A span that records duration and ok/error status, and re-raises errors."""
    started = time.monotonic()
    with tracer().start_as_current_span(name, record_exception=False) as current:
        for key, value in attributes.items():
            if value is not None:
                current.set_attribute(key, _safe(value))
        try:
            yield current
        except BaseException as exc:
            current.set_attribute("status", "error")
            message = redact_text(str(exc))
            current.set_attribute("error", message[:500])
            current.set_status(Status(StatusCode.ERROR, message[:200]))
            raise
        finally:
            current.set_attribute("duration_ms", round((time.monotonic() - started) * 1000, 3))
        current.set_attribute("status", "ok")
        current.set_status(Status(StatusCode.OK))
