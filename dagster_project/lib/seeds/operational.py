"""Operational fixtures (seeds/operational/*.yml) into app.*: tenants, people, keys, models, budgets.

Loading checks the fixtures' cross references (a member is a known user, a key's creator is a
member, a budget's model is in the registry) so a typo is one clear message, not a foreign key
violation halfway through. The database still enforces every constraint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import yaml
from psycopg.types.json import Jsonb

from dagster_project.lib.keys.apikeys import generate_api_key
from dagster_project.lib.pricing.categories import RATE_COLUMNS, SERVICE_TIERS
from dagster_project.lib.seeds import ids
from dagster_project.lib.seeds.core import DevKey, SeedError, SeedReport, insert_row

DEV_KEY_KIND = "test"  # seeded keys are never `plat_live_` keys
PRICE_KEY = ("model_id", "service_tier", "above_input_tokens", "effective_from")


@dataclass(frozen=True)
class KeySpec:
    organization: str
    name: str
    scopes: tuple[str, ...]
    created_by: str | None  # email
    expires_in_days: int | None
    revoked: bool


@dataclass
class OperationalFixtures:
    """Rows ready to insert (ids derived), in foreign key order, plus the keys to create."""

    organizations: list[dict[str, Any]] = field(default_factory=list)
    users: list[dict[str, Any]] = field(default_factory=list)
    memberships: list[dict[str, Any]] = field(default_factory=list)
    models: list[dict[str, Any]] = field(default_factory=list)
    prices: list[dict[str, Any]] = field(default_factory=list)
    budgets: list[dict[str, Any]] = field(default_factory=list)
    keys: list[KeySpec] = field(default_factory=list)


def _entries(path: Path, key: str) -> list[dict[str, Any]]:
    data = yaml.safe_load(path.read_text()) or {}
    entries = data.get(key)
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise SeedError(f"{path}: expected a list of mappings under `{key}:`")
    return entries


def _require(entry: dict[str, Any], name: str, where: str, kind: type = str) -> Any:
    value = entry.get(name)
    if not isinstance(value, kind):
        raise SeedError(f"{where}: `{name}` must be a {kind.__name__}, got {value!r}")
    return value


def _decimal(value: Any) -> Decimal | None:
    # Through str: the YAML float 0.075 becomes exactly Decimal('0.075'), not its binary value.
    return None if value is None else Decimal(str(value))


MODEL_KEYS = frozenset({"provider", "model_name", "version", "context_window", "status", "prices"})
PRICE_KEYS = frozenset(
    {"effective_from", "effective_to", "service_tier", "above_input_tokens", *RATE_COLUMNS}
)
REQUIRED_RATES = ("input_usd_per_mtok", "output_usd_per_mtok")  # NOT NULL in app.model_prices


def _known_keys(entry: dict[str, Any], known: frozenset[str], where: str) -> None:
    # A typo (`cache_read_usd_per_mtok`) would otherwise leave that rate NULL: unpriced, silently.
    unknown = sorted(set(entry) - known)
    if unknown:
        raise SeedError(
            f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )


def _price_row(model_id: Any, p: Any, where: str) -> dict[str, Any]:
    if not isinstance(p, dict):
        raise SeedError(f"{where}: a price must be a mapping, got {p!r}")
    _known_keys(p, PRICE_KEYS, f"{where} price")
    tier = p.get("service_tier", "standard")
    if tier not in SERVICE_TIERS:
        raise SeedError(f"{where}: service_tier {tier!r} is not one of {', '.join(SERVICE_TIERS)}")
    above = p.get("above_input_tokens", 0)
    if not isinstance(above, int) or isinstance(above, bool) or above < 0:
        raise SeedError(f"{where}: above_input_tokens must be an integer >= 0, got {above!r}")
    row: dict[str, Any] = {
        "model_id": model_id,
        "service_tier": tier,
        "above_input_tokens": above,
        "effective_from": _require(p, "effective_from", where, datetime),
        "effective_to": p.get("effective_to"),
    }
    for column in RATE_COLUMNS:
        value = p.get(column)
        if value is None and column in REQUIRED_RATES:
            raise SeedError(f"{where}: `{column}` is required (a price row always has it)")
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, (int, float, str))
        ):
            raise SeedError(f"{where}: `{column}` must be a number, got {value!r}")
        try:
            row[column] = _decimal(value)
        except ArithmeticError:
            raise SeedError(f"{where}: `{column}` must be a number, got {value!r}") from None
    return row


def _unique(values: list[str], what: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            # Two entries would derive the same id and the second would silently be dropped.
            raise SeedError(f"duplicate {what} in the seeds: {value!r}")
        seen.add(value)


def load_operational(directory: Path) -> OperationalFixtures:
    fx = OperationalFixtures()
    users = _entries(directory / "users.yml", "users")
    emails = [_require(u, "email", "users.yml") for u in users]
    _unique(emails, "user email")
    fx.users = [
        {"id": ids.user_id(u["email"]), "email": u["email"], "display_name": u.get("display_name")}
        for u in users
    ]

    models = _entries(directory / "models.yml", "models")
    refs = []
    for m in models:
        where = f"models.yml {m.get('provider')}/{m.get('model_name')}"
        _known_keys(m, MODEL_KEYS, where)
        ref = ids.model_ref(
            _require(m, "provider", where),
            _require(m, "model_name", where),
            _require(m, "version", where),  # a str: an unquoted 002 or 2024-08-06 is not one
        )
        refs.append(ref)
        fx.models.append(
            {
                "id": ids.model_id(ref),
                "provider": m["provider"],
                "model_name": m["model_name"],
                "version": m["version"],
                "context_window": _require(m, "context_window", where, int),
                "status": m.get("status", "active"),
            }
        )
        prices = [_price_row(ids.model_id(ref), p, where) for p in m.get("prices") or []]
        # The seed's idempotency key (app.model_prices' id is an identity the seed cannot know).
        _unique([f"{ref} {p['service_tier']} above {p['above_input_tokens']} from "
                 f"{p['effective_from'].isoformat()}" for p in prices], "price row")  # fmt: skip
        fx.prices.extend(prices)
    _unique(refs, "model")

    orgs = _entries(directory / "organizations.yml", "organizations")
    _unique([_require(o, "slug", "organizations.yml") for o in orgs], "organization slug")
    known_users = set(emails)
    for o in orgs:
        slug, where = o["slug"], f"organizations.yml {o['slug']}"
        org_id = ids.organization_id(slug)
        fx.organizations.append(
            {
                "id": org_id,
                "slug": slug,
                "name": _require(o, "name", where),
                "status": o.get("status", "active"),
            }
        )
        members: dict[str, str] = o.get("members") or {}
        for email, role in members.items():
            if email not in known_users:
                raise SeedError(f"{where}: member {email} is not in users.yml")
            fx.memberships.append(
                {"organization_id": org_id, "user_id": ids.user_id(email), "role": role}
            )
        keys = o.get("api_keys") or []
        _unique([f"{slug}/{_require(k, 'name', where)}" for k in keys], "API key name")
        for k in keys:
            if k.get("created_by") is not None and k["created_by"] not in members:
                raise SeedError(
                    f"{where}: key {k['name']} created_by {k['created_by']} is not a member"
                )
            fx.keys.append(
                KeySpec(
                    slug,
                    k["name"],
                    tuple(_require(k, "scopes", where, list)),
                    k.get("created_by"),
                    k.get("expires_in_days"),
                    bool(k.get("revoked", False)),
                )
            )
        budgets = o.get("budgets") or []
        _unique([f"{slug}/{b.get('model') or '*'}/{b.get('period')}" for b in budgets], "budget")
        for b in budgets:
            model = b.get("model")
            if model is not None and model not in refs:
                raise SeedError(f"{where}: budget model {model} is not in models.yml")
            row = {
                "id": ids.budget_id(slug, model, _require(b, "period", where)),
                "organization_id": org_id,
                "model_id": ids.model_id(model) if model else None,
                "period": b["period"],
                "token_limit": b.get("token_limit"),
                "cost_limit_usd": _decimal(b.get("cost_limit_usd")),
            }
            # Omitted thresholds keep the database defaults.
            row.update({t: _decimal(b[t]) for t in ("soft_threshold", "hard_threshold") if t in b})
            fx.budgets.append(row)
    return fx


def seed_operational(
    conn: psycopg.Connection, fx: OperationalFixtures, report: SeedReport, *, actor: str
) -> None:
    """Insert what is missing, in foreign key order. Runs inside the caller's transaction."""
    for table, rows, pk in (
        ("organizations", fx.organizations, ("id",)),
        ("users", fx.users, ("id",)),
        ("memberships", fx.memberships, ("organization_id", "user_id")),
        ("model_registry", fx.models, ("id",)),
        # Keyed on the version's natural key: the id is an identity column. A correction
        # (app.correct_model_price) keeps the key of the version it supersedes, so a seeded
        # database whose prices were corrected since is not re-seeded with the wrong rates.
        ("model_prices", fx.prices, PRICE_KEY),
        ("budgets", fx.budgets, ("id",)),
    ):
        for row in rows:
            if table == "model_prices" and _price_exists(conn, row):
                # Looked up first: an INSERT that does nothing still draws an identity value,
                # and a second seed must change nothing, not even a sequence.
                report.count(table, inserted=False)
                continue
            insert_row(conn, report, table, row, pk)
    _seed_keys(conn, fx.keys, report, actor=actor)


def _price_exists(conn: psycopg.Connection, row: dict[str, Any]) -> bool:
    return (
        conn.execute(
            "SELECT 1 FROM app.model_prices WHERE model_id = %s AND service_tier = %s"
            " AND above_input_tokens = %s AND effective_from = %s LIMIT 1",
            [row[c] for c in PRICE_KEY],
        ).fetchone()
        is not None
    )


def _seed_keys(
    conn: psycopg.Connection, specs: list[KeySpec], report: SeedReport, *, actor: str
) -> None:
    # created_at defaults to now(), the transaction's start: the same instant as this.
    now: datetime = conn.execute("SELECT now()").fetchone()[0]
    wanted = {ids.api_key_id(s.organization, s.name): s for s in specs}
    existing = dict(
        conn.execute(
            "SELECT id, key_prefix FROM app.api_keys WHERE id = ANY(%s)", (list(wanted),)
        ).fetchall()
    )
    for key_id, spec in wanted.items():
        if key_id in existing:
            # Its plaintext was printed when it was created; only the hash is stored. A new key
            # is generated only for a key that does not exist (the seed lock rules out a race).
            report.existing_keys.append(f"{spec.organization}/{spec.name} ({existing[key_id]}…)")
            report.count("api_keys", inserted=False)
            continue
        key = generate_api_key(DEV_KEY_KIND)
        expires_at = now + timedelta(days=spec.expires_in_days) if spec.expires_in_days else None
        row = {
            "id": key_id,
            "organization_id": ids.organization_id(spec.organization),
            "name": spec.name,
            "key_prefix": key.prefix,
            "key_hash": key.sha256,  # the only trace of the key in the database
            "scopes": list(spec.scopes),
            "created_by": ids.user_id(spec.created_by) if spec.created_by else None,
            "expires_at": expires_at,
            "revoked_at": now if spec.revoked else None,
        }
        if not insert_row(conn, report, "api_keys", row):
            continue  # not reachable under the seed lock; never print a key that was not stored
        report.new_keys.append(
            DevKey(spec.organization, spec.name, key_id, key, spec.scopes, expires_at, spec.revoked)
        )
        # Key creation is audited like any other; the record names the key, never its secret.
        conn.execute(
            """INSERT INTO app.audit_log (organization_id, actor_type, actor_id, action, target_type,
                                          target_id, after_state, metadata)
               VALUES (%s, 'system', %s, 'api_key.create', 'api_key', %s, %s, %s)""",
            (
                row["organization_id"],
                actor,
                str(key_id),
                Jsonb(
                    {
                        "name": spec.name,
                        "key_prefix": key.prefix,
                        "scopes": list(spec.scopes),
                        "expires_at": expires_at.isoformat() if expires_at else None,
                        "revoked": spec.revoked,
                    }
                ),
                Jsonb({"source": "seed"}),
            ),
        )
        report.count("audit_log", inserted=True)
