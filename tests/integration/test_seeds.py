"""Seeds against real PostgreSQL: deterministic, idempotent, no key material anywhere.

Most tests share one seeded clone of the migrated template (module scope); the tests that must
see a database before its first seed get their own clone.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from psycopg import errors, sql
from typer.testing import CliRunner

from dagster_project.cli import app
from dagster_project.defs.common.resources import OperationalDatabase
from dagster_project.defs.seeds.assets import operational_seed
from dagster_project.lib.keys.apikeys import find_api_keys, hash_api_key
from dagster_project.lib.paths import SEEDS_DIR
from dagster_project.lib.seeds import SeedError, SeedReport, ids, seed_database

EVENTS = SEEDS_DIR / "analytics" / "usage_events.ndjson"
NOBODY = uuid.uuid5(ids.NAMESPACE, "does-not-exist")


@pytest.fixture(scope="module")
def seeded(operational_databases) -> Iterator[tuple[str, SeedReport]]:
    url = operational_databases.create()
    yield url, seed_database(url)
    operational_databases.drop(url)


def snapshot(url: str) -> dict[str, list[tuple]]:
    """Every row of every app table ordered by primary key, with xmin (a rewritten row gets a
    new xmin even when its values are unchanged), every app relation name (partitions) and
    every app sequence position."""
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            """SELECT c.relname,
                      (SELECT array_agg(a.attname ORDER BY k.ord)
                       FROM pg_index i CROSS JOIN unnest(i.indkey) WITH ORDINALITY AS k (attnum, ord)
                       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                       WHERE i.indrelid = c.oid AND i.indisprimary)
               FROM pg_class c
               WHERE c.relnamespace = 'app'::regnamespace AND c.relkind IN ('r', 'p')
                 AND NOT c.relispartition
               ORDER BY 1"""
        ).fetchall()
        dump: dict[str, list[tuple]] = {}
        for table, pk in tables:
            assert pk, f"app.{table} has no primary key to order a dump by"
            dump[table] = conn.execute(
                sql.SQL("SELECT t.xmin::text, t.* FROM app.{} AS t ORDER BY {}").format(
                    sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, pk))
                )
            ).fetchall()
        dump["relations"] = conn.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = 'app'::regnamespace ORDER BY 1"
        ).fetchall()
        dump["sequences"] = conn.execute(
            "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'app' ORDER BY 1"
        ).fetchall()
    assert dump["organizations"] and dump["usage_events"]
    return dump


def seeded_ids(url: str) -> dict[str, list[tuple]]:
    """The seeded rows' ids and natural keys, table by table."""
    with psycopg.connect(url) as conn:
        return {
            "organizations": conn.execute("SELECT id, slug FROM app.organizations ORDER BY id").fetchall(),
            "users": conn.execute("SELECT id, email FROM app.users ORDER BY id").fetchall(),
            "memberships": conn.execute("SELECT organization_id, user_id, role FROM app.memberships ORDER BY 1, 2").fetchall(),
            "api_keys": conn.execute("SELECT id, name, organization_id, created_by FROM app.api_keys ORDER BY id").fetchall(),
            "model_registry": conn.execute("SELECT id, provider, model_name, version FROM app.model_registry ORDER BY id").fetchall(),
            "model_prices": conn.execute("SELECT model_id, effective_from FROM app.model_prices ORDER BY 1, 2").fetchall(),
            "budgets": conn.execute("SELECT id, organization_id, model_id, period FROM app.budgets ORDER BY id").fetchall(),
        }  # fmt: skip


def test_seeding_twice_gives_an_identical_database(seeded):
    url, first = seeded
    assert all(counts.inserted > 0 for counts in first.tables.values()), first.tables
    assert len(first.new_keys) == 6
    before = snapshot(url)

    second = seed_database(url)

    assert second.inserted == 0
    assert {t: c.existing for t, c in second.tables.items() if t != "audit_log"} == {
        t: c.inserted for t, c in first.tables.items() if t != "audit_log"
    }
    assert second.new_keys == []
    assert len(second.existing_keys) == 6
    assert snapshot(url) == before


def _pg_dump(url: str) -> str:
    with psycopg.connect(url) as conn:
        major = conn.info.server_version // 10000
    candidates = [f"/usr/lib/postgresql/{major}/bin/pg_dump", shutil.which("pg_dump")]
    binary = next((c for c in candidates if c and Path(c).exists()), None)
    if binary is None:
        pytest.skip("no pg_dump binary")
    return subprocess.run(
        [binary, "--data-only", "--dbname", url], capture_output=True, text=True, check=True
    ).stdout


def test_pg_dump_of_a_seeded_database_contains_no_plaintext_key(seeded):
    url, report = seeded
    dump = _pg_dump(url)
    plaintexts = [key.key.plaintext for key in report.new_keys]
    assert len(plaintexts) == 6
    assert not [p for p in plaintexts if p in dump]
    assert find_api_keys(dump) == []
    # The keys are in the dump, as their hashes only: proves app.api_keys was dumped at all.
    assert all("\\x" + hash_api_key(p).hex() in dump for p in plaintexts)


ACME, GLOBEX = ids.organization_id("acme"), ids.organization_id("globex")
HEDY = ids.user_id("hedy@globex.example")  # a member of globex, not of acme


@pytest.mark.parametrize(
    ("statement", "params"),
    [
        pytest.param(
            "INSERT INTO app.memberships VALUES (%s, %s, 'member')", (ACME, NOBODY),
            id="membership-for-missing-user",
        ),
        pytest.param(
            "INSERT INTO app.memberships VALUES (%s, %s, 'member')", (NOBODY, HEDY),
            id="membership-in-missing-org",
        ),
        pytest.param(
            "INSERT INTO app.api_keys (organization_id, name, key_prefix, key_hash, scopes)"
            " VALUES (%s, 'k', 'plat_test_abcd', sha256('x'), '{usage:write}')", (NOBODY,),
            id="api-key-for-missing-org",
        ),
        pytest.param(
            "INSERT INTO app.api_keys (organization_id, name, key_prefix, key_hash, scopes, created_by)"
            " VALUES (%s, 'k', 'plat_test_abcd', sha256('x'), '{usage:write}', %s)", (ACME, HEDY),
            id="api-key-created-by-non-member",
        ),
        pytest.param(
            "INSERT INTO app.budgets (organization_id, model_id, period, token_limit)"
            " VALUES (%s, %s, 'day', 1000)", (ACME, NOBODY),
            id="budget-for-missing-model",
        ),
        pytest.param(
            "INSERT INTO app.model_prices VALUES (%s, now(), NULL, 1, 1)", (NOBODY,),
            id="price-for-missing-model",
        ),
    ],
)  # fmt: skip
def test_invalid_foreign_keys_are_rejected(seeded, statement, params):
    url, _ = seeded
    with psycopg.connect(url) as conn, pytest.raises(errors.ForeignKeyViolation):
        conn.execute(statement, params)


def test_fixture_references_are_checked_before_touching_the_database(tmp_path: Path):
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS_DIR, seeds)
    orgs = seeds / "operational" / "organizations.yml"
    orgs.write_text(
        orgs.read_text().replace("edsger@initech.example: member", "nobody@x.example: member")
    )
    # No server at this URL: the fixture error must come first.
    with pytest.raises(SeedError, match="nobody@x.example is not in users.yml"):
        seed_database("postgresql://nobody@127.0.0.1:1/none", seeds_dir=seeds)


def test_analytics_events_cost_the_price_in_effect_when_they_occurred(seeded):
    url, report = seeded
    fixture_events = len(EVENTS.read_text().splitlines())
    assert report.tables["usage_events"].inserted == fixture_events
    with psycopg.connect(url) as conn:
        boundary = dict(
            conn.execute(
                "SELECT event_id, cost_usd FROM app.usage_events"
                " WHERE event_id IN ('evt_20261102_0021', 'evt_20261103_0022')"
            ).fetchall()
        )
        # gpt-4o-mini: 1000 input + 1000 output tokens at 0.15/0.60, then at 0.12/0.48 per Mtok.
        assert boundary == {
            "evt_20261102_0021": Decimal("0.00075"),
            "evt_20261103_0022": Decimal("0.0006"),
        }
        sides = conn.execute(
            """SELECT count(*) FILTER (WHERE e.occurred_at < '2026-11-03T00:00:00Z'),
                      count(*) FILTER (WHERE e.occurred_at >= '2026-11-03T00:00:00Z'),
                      count(*) FILTER (WHERE e.cost_usd IS DISTINCT FROM
                          (e.input_tokens * p.input_usd_per_mtok + e.output_tokens * p.output_usd_per_mtok) / 1e6),
                      count(p.model_id), count(*)
               FROM app.usage_events AS e
               LEFT JOIN app.model_prices AS p ON p.id = e.price_id AND p.model_id = e.model_id
                    AND p.service_tier = 'standard' AND p.above_input_tokens = 0
                    AND p.effective_from <= e.occurred_at
                    AND (p.effective_to IS NULL OR e.occurred_at < p.effective_to)
               WHERE e.model_id = %s""",
            (ids.model_id("openai/gpt-4o-mini@2024-07-18"),),
        ).fetchone()
        before, after, wrong, priced, total = sides
        assert before > 1 and after > 1 and wrong == 0 and priced == total
        wrong_anywhere = conn.execute(
            """SELECT count(*) FROM app.usage_events AS e
               JOIN app.model_prices AS p ON p.id = e.price_id
               WHERE NOT (p.model_id = e.model_id AND p.service_tier = e.service_tier
                          AND tstzrange(p.effective_from, p.effective_to) @> e.occurred_at)
                  OR e.cost_usd <> round(e.input_tokens * p.input_usd_per_mtok * 0.000001, 10)
                                   + round(e.output_tokens * p.output_usd_per_mtok * 0.000001, 10)"""
        ).fetchone()[0]
        assert wrong_anywhere == 0


def test_cli_prints_new_keys_once(operational_db_url):
    cli = CliRunner()
    first = cli.invoke(app, ["seed", "--database-url", operational_db_url, "--no-analytics"])
    assert first.exit_code == 0, first.output
    printed = find_api_keys(first.output)
    assert len(printed) == 6 and "shown ONLY NOW" in first.output
    with psycopg.connect(operational_db_url) as conn:
        stored = {bytes(h) for (h,) in conn.execute("SELECT key_hash FROM app.api_keys")}
        events = conn.execute("SELECT count(*) FROM app.usage_events").fetchone()[0]
    assert stored == {hash_api_key(key) for key in printed}
    assert events == 0  # --no-analytics

    second = cli.invoke(app, ["seed", "--database-url", operational_db_url, "--no-analytics"])
    assert second.exit_code == 0, second.output
    assert find_api_keys(second.output) == []
    assert "6 dev API key(s) already exist" in second.output
    assert "not recoverable" in second.output


def test_cli_refuses_an_unmigrated_database(fresh_db_url):
    result = CliRunner().invoke(app, ["seed", "--database-url", fresh_db_url])
    assert result.exit_code == 1
    assert "run `platformctl migrate up` first" in result.output


def test_dagster_asset_seeds_the_same_ids_and_logs_only_key_prefixes(seeded, operational_db_url):
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [operational_seed],
        resources={"operational_db": OperationalDatabase(url=operational_db_url)},
        run_config={"ops": {"operational_seed": {"config": {"analytics": False}}}},
        instance=instance,
    )
    assert result.success
    metadata = result.asset_materializations_for_node("operational_seed")[0].metadata
    assert metadata["inserted_total"].value > 0

    # Another database, another entry point: the same ids, derived from the same names.
    assert seeded_ids(operational_db_url) == seeded_ids(seeded[0])
    assert ids.organization_id("acme") == uuid.uuid5(ids.NAMESPACE, "organization:acme")

    logged = "\n".join(
        f"{entry.user_message} {entry.dagster_event}" for entry in instance.all_logs(result.run_id)
    )
    assert find_api_keys(logged) == []
    assert "Plaintexts are not shown in run logs" in logged
    with psycopg.connect(operational_db_url) as conn:
        prefixes = [p for (p,) in conn.execute("SELECT key_prefix FROM app.api_keys")]
        hashes = {bytes(h) for (h,) in conn.execute("SELECT key_hash FROM app.api_keys")}
    assert len(prefixes) == 6 and all(p in logged for p in prefixes)
    # Keys are generated per database: the same ids, never the same secret.
    assert not hashes & {hash_api_key(k.key.plaintext) for k in seeded[1].new_keys}


def test_a_misspelt_price_key_is_refused_in_one_line(tmp_path: Path):
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS_DIR, seeds)
    models = seeds / "operational" / "models.yml"
    models.write_text(
        models.read_text().replace(
            "cache_read_input_usd_per_mtok: 1.25", "cache_read_usd_per_mtok: 1.25", 1
        )
    )
    # No server at this URL: the fixture error comes first, and names the key.
    with pytest.raises(
        SeedError, match=r"openai/gpt-4o price: unknown key\(s\) cache_read_usd_per_mtok; known: "
    ) as caught:
        seed_database("postgresql://nobody@127.0.0.1:1/none", seeds_dir=seeds)
    assert "\n" not in str(caught.value)


def test_seeded_prices_carry_tiers_and_category_rates(seeded):
    url, _ = seeded
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """SELECT m.provider || '/' || m.model_name, p.service_tier, p.above_input_tokens,
                      p.input_usd_per_mtok, p.cache_read_input_usd_per_mtok,
                      p.cache_write_1h_input_usd_per_mtok, p.reasoning_output_usd_per_mtok
               FROM app.model_prices p JOIN app.model_registry m ON m.id = p.model_id
               WHERE p.effective_to IS NULL AND p.superseded_at IS NULL"""
        ).fetchall()
    current = {(r[0], r[1], r[2]): r[3:] for r in rows}
    D = Decimal
    # Anthropic: cache write 1h = 2x input, read = 0.1x; the >200k tier prices the whole call.
    assert current[("anthropic/claude-sonnet-4", "standard", 0)] == (D(3), D("0.3"), D(6), D(15))
    assert current[("anthropic/claude-sonnet-4", "standard", 200000)] == (
        D(6),
        D("0.6"),
        D(12),
        D("22.5"),
    )
    assert current[("google/gemini-2.5-pro", "standard", 200000)][0] == D("2.5")
    # Batch is half of standard wherever offered; OpenAI has no cache-write rate (NULL).
    for (model, tier, above), rates in current.items():
        if tier == "batch" and (model, "standard", above) in current:
            standard = current[(model, "standard", above)]
            assert rates[0] * 2 == standard[0], model
    assert current[("openai/o4-mini", "standard", 0)][2] is None
