"""What may leave the operational database, on both warehouse engines: the landing DDL is exactly
what configs/data-classification.yml derives, and no secret or confidential plaintext lands."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest
from warehouse_helpers import KEY, TARGETS, add_events, make_warehouse, warehouse_rows

from dagster_project.lib.seeds import seed_database
from dagster_project.lib.warehouse import load_hours
from dagster_project.lib.warehouse.export import PSEUDONYM_SUFFIX, export_plan

ALL_TIME = [(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))]
COLUMNS = """SELECT table_name, column_name, data_type FROM information_schema.columns
             WHERE table_schema = 'landing' ORDER BY table_name, ordinal_position"""


@pytest.fixture(params=TARGETS)
def warehouse_url(request, tmp_path, make_db_url) -> str:
    return make_warehouse(request.param, tmp_path, make_db_url)


def test_landing_ddl_is_exactly_what_the_classification_derives(warehouse_url):
    landed: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in warehouse_rows(warehouse_url, COLUMNS):
        landed.setdefault(table, []).append((column, data_type.lower()))
    plan = export_plan()
    assert set(landed) == {t.name for t in plan.values()} | {"loaded_hours"}
    for table in plan.values():
        assert [c for c, _ in landed[table.name]] == table.target_columns, table.name
        for column, data_type in landed[table.name]:
            if column.endswith(PSEUDONYM_SUFFIX):
                assert data_type in ("varchar", "character varying"), (table.name, column)
    assert "key_hash" not in dict(landed["api_keys"])
    assert ("metadata_pseudonym", "varchar") in [(c, t.replace("character varying", "varchar"))
                                                 for c, t in landed["usage_events"]]  # fmt: skip


def test_no_secret_and_no_confidential_plaintext_reaches_the_warehouse(
    operational_db_url, warehouse_url
):
    seed_database(operational_db_url)
    add_events(operational_db_url, 300, prefix="leak-", marker="PLAINTEXT-METADATA")
    load_hours(operational_db_url, warehouse_url, ALL_TIME, pseudonym_key=KEY, load_id="leak-test")
    with psycopg.connect(operational_db_url) as conn:
        secrets = [h.hex() for (h,) in conn.execute("SELECT key_hash FROM app.api_keys")]
        plaintext = [v for (v,) in conn.execute(
            "SELECT name FROM app.organizations UNION ALL SELECT email FROM app.users "
            "UNION ALL SELECT display_name FROM app.users WHERE display_name IS NOT NULL "
            "UNION ALL SELECT metadata::text FROM app.usage_events WHERE metadata IS NOT NULL"
        )]  # fmt: skip
    assert secrets and len(plaintext) > 200
    dump = "\n".join(
        repr(row) for table in export_plan().values()
        for row in warehouse_rows(warehouse_url, f"SELECT * FROM {table.target}")
    )  # fmt: skip
    assert "PLAINTEXT-METADATA" not in dump
    assert [s for s in secrets if s in dump or s.upper() in dump] == []
    assert [p for p in plaintext if p in dump] == []
    # ... while the pseudonyms are there (exact values: test_warehouse_load)
    (n,) = warehouse_rows(
        warehouse_url, "SELECT count(metadata_pseudonym) FROM landing.usage_events"
    )[0]
    assert n == 200
