"""The DuckDB snapshot analysts open: complete, atomic, readable while the next one is written."""

import duckdb

from dagster_project.lib.rollup.snapshot import publish_snapshot


def _warehouse(path, rows):
    with duckdb.connect(str(path)) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS marts")
        conn.execute(
            "CREATE OR REPLACE TABLE marts.usage_daily AS SELECT range AS n FROM range(?)", [rows]
        )
        conn.execute(
            "CREATE OR REPLACE VIEW marts.daily_total AS SELECT sum(n) AS total FROM marts.usage_daily"
        )
        conn.execute("CREATE SCHEMA IF NOT EXISTS landing")
        conn.execute("CREATE OR REPLACE TABLE landing.secretish AS SELECT 1 AS x")


def test_snapshot_holds_the_marts_only_and_views_as_rows(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    _warehouse(warehouse, 10)
    report = publish_snapshot(warehouse)
    assert report.relations == {"daily_total": 1, "usage_daily": 10}
    with duckdb.connect(str(report.path), read_only=True) as reader:
        assert reader.execute("SELECT total FROM marts.daily_total").fetchone() == (45,)
        schemas = {
            r[0]
            for r in reader.execute(
                "SELECT schema_name FROM information_schema.schemata WHERE catalog_name = current_database()"
            ).fetchall()
        }
        assert "landing" not in schemas


def test_a_reader_keeps_its_snapshot_while_the_next_is_published(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    _warehouse(warehouse, 10)
    first = publish_snapshot(warehouse)
    with duckdb.connect(str(first.path), read_only=True) as reader:
        _warehouse(warehouse, 20)  # the pipeline writes the warehouse while the analyst reads
        publish_snapshot(warehouse)
        assert reader.execute("SELECT count(*) FROM marts.usage_daily").fetchone() == (10,)
    with duckdb.connect(str(first.path), read_only=True) as reader:
        assert reader.execute("SELECT count(*) FROM marts.usage_daily").fetchone() == (20,)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
