"""Quarantine reason codes: the same list as ingest.quarantine's ck_quarantine_reason.

Checked in this order; an event gets the first reason that applies. The runbook
(docs/runbooks/ingestion.md) says what each means and what to do about it.
"""

from __future__ import annotations

REASONS: dict[str, str] = {
    # the record itself (lib/ingest/readers.py, lib/ingest/schema.py)
    "invalid_encoding": "the line is not UTF-8",
    "too_large": "the line (CSV, Parquet: the row as JSON) is longer than the envelope's "
    "x-maxLineBytes; the payload kept is its beginning",
    "malformed_record": "not parseable: invalid JSON, a NUL byte, a key given twice, a CSV row "
    "with the wrong number of fields",
    # the envelope's JSON Schema (docs/schemas/usage-event.schema.json)
    "unknown_field": "a property the envelope does not define",
    "missing_field": "a required property is absent (CSV, Parquet: empty)",
    "invalid_type": "a value of the wrong JSON type, or the event is not an object",
    "invalid_value": "the right type, a wrong value: pattern, format, enum, range, length, an "
    "error_code on a success, U+0000 in text, NaN/Infinity in metadata, a cost beyond "
    "numeric(18,10)",
    "too_deep": "metadata nested deeper than the envelope's x-maxDepth",
    "value_out_of_range": "a metadata number PostgreSQL's numeric cannot hold (beyond the "
    "envelope's x-maxNumberLength or x-maxExponent)",
    # against the database, as of the batch's reference time (lib/ingest/validate.py)
    "unknown_organization": "organization_id is no organization",
    "organization_not_active": "the organization is suspended or closed",
    "unknown_model": "model names no model_registry entry (provider/model_name@version)",
    "api_key_not_in_organization": "api_key_id is not one of the organization's keys",
    "user_not_in_organization": "user_id is not a member of the organization",
    "occurred_in_future": "occurred_at is later than the batch's arrival plus the clock skew",
    "older_than_retention": "occurred_at is earlier than the retention window",
    "no_partition": "no app.usage_events partition exists for occurred_at's UTC day",
    "api_key_inactive": "the key was revoked or had expired at occurred_at",
    "no_price": "the model has no price in effect at occurred_at in the event's service_tier "
    "(absent = standard)",
    "exceeds_context_window": "the event's total input (the input, cache read, cache write, "
    "audio and image input tokens) is more than the model's context_window: impossible for one "
    "call, so the counts overlap (a provider total not split) or the model is wrong",
    "unpriced_category": "a category with a non-zero count whose rate is NULL (not offered) in "
    "the price version chosen for the event (the detail names the categories and the price id)",
}
