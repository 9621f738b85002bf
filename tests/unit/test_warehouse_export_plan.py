"""lib/warehouse/export.py and the load's input checks, without a database."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from dagster_project.lib.docs.classification import load_classification
from dagster_project.lib.warehouse import WarehouseError
from dagster_project.lib.warehouse.export import (
    COPIED_TABLES,
    export_plan,
    export_table,
    pads,
    pseudonym,
    select_sql,
)
from dagster_project.lib.warehouse.load import _target, normalise_ranges

CLASSIFICATION = """
tables:
  app.t:
    id: {classification: internal, retention: until_deleted}
    token: {classification: secret, storage: sha256, retention: until_deleted}
    email: {classification: confidential, retention: until_deleted}
    name: {classification: public, retention: until_deleted}
"""
T0 = datetime(2026, 12, 1, tzinfo=UTC)


def test_secret_never_leaves_confidential_is_pseudonymised_the_rest_as_is(tmp_path):
    path = tmp_path / "c.yml"
    path.write_text(CLASSIFICATION)
    table = export_table(load_classification(path), "app.t")
    assert table.target_columns == ["id", "email_pseudonym", "name"]
    text = select_sql(table).as_string(None)
    assert "token" not in text and '"email"' in text and "sha256" in text


def test_the_real_classification_keeps_key_hash_and_plaintext_out():
    plan = export_plan()
    assert list(plan) == list(COPIED_TABLES)
    assert "key_hash" not in plan["app.api_keys"].target_columns
    assert plan["app.users"].target_columns == [
        "id",
        "email_pseudonym",
        "display_name_pseudonym",
        "created_at",
    ]
    assert "cost_usd" in plan["app.usage_events"].target_columns  # internal since issue 8
    assert plan["app.budgets"].pseudonymised is False


@pytest.mark.parametrize("key", [b"k", b"x" * 64, b"long" * 40])
def test_the_padded_keys_give_rfc_2104_hmac(key):
    ipad, opad = (bytes.fromhex(p) for p in pads(key))
    message = "ä@example.com".encode()
    inner = hashlib.sha256(ipad + message).digest()
    assert (
        hashlib.sha256(opad + inner).hexdigest()
        == hmac.new(key, message, hashlib.sha256).hexdigest()
    )
    assert pseudonym(key, "ä@example.com") == hashlib.sha256(opad + inner).hexdigest()
    assert pseudonym(key, None) is None


def test_an_empty_key_is_refused():
    with pytest.raises(WarehouseError, match="WAREHOUSE_PSEUDONYM_KEY"):
        pads(b"")


@pytest.mark.parametrize(
    ("ranges", "message"),
    [
        ([], "no hour ranges"),
        ([(T0 + timedelta(minutes=5), T0 + timedelta(hours=1))], "not a whole UTC hour"),
        ([(T0.replace(tzinfo=None), T0 + timedelta(hours=1))], "no time zone"),
        ([(T0, T0)], "empty range"),
    ],
)
def test_bad_ranges_are_one_clear_error(ranges, message):
    with pytest.raises(WarehouseError, match=message):
        normalise_ranges(ranges)


def test_overlapping_ranges_are_merged():
    hour = timedelta(hours=1)
    merged = normalise_ranges(
        [(T0, T0 + 2 * hour), (T0 + hour, T0 + 3 * hour), (T0 + 5 * hour, T0 + 6 * hour)]
    )
    assert [(r.start, r.end) for r in merged] == [
        (T0, T0 + 3 * hour),
        (T0 + 5 * hour, T0 + 6 * hour),
    ]


def test_an_unknown_warehouse_url_is_refused():
    with pytest.raises(WarehouseError, match="expected duckdb"):
        _target("sqlite:///x.db")
