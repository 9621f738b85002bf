"""Price versions: find a model, list its versions, correct one (app.correct_model_price).

Run as the DATABASE_URL admin role (the migrations' role): correcting a price is an owner's act,
and app.correct_model_price is granted to no service role.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from dagster_project.lib.errors import InvalidInput, PlatformError
from dagster_project.lib.pricing.categories import RATE_COLUMNS
from dagster_project.lib.sqlfiles import read_sql

# numeric(12, 6): the largest rate app.model_prices can hold.
MAX_RATE = Decimal("999999.999999")


class PricingError(PlatformError):
    """A pricing operation cannot be done as asked; the message says why and what to do."""


@dataclass(frozen=True)
class Model:
    id: uuid.UUID
    ref: str  # provider/model_name@version


@dataclass(frozen=True)
class PriceVersion:
    id: int
    model: str
    service_tier: str
    above_input_tokens: int
    effective_from: datetime
    effective_to: datetime | None
    superseded_at: datetime | None
    corrects: int | None
    correction_reason: str | None
    rates: dict[str, Decimal | None]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "model": self.model, "service_tier": self.service_tier,
            "above_input_tokens": self.above_input_tokens,
            "effective_from": self.effective_from.isoformat(),
            "effective_to": self.effective_to.isoformat() if self.effective_to else None,
            "superseded_at": self.superseded_at.isoformat() if self.superseded_at else None,
            "corrects": self.corrects, "correction_reason": self.correction_reason,
            "rates": {k: (str(v) if v is not None else None) for k, v in self.rates.items()},
        }  # fmt: skip


def resolve_model(conn: psycopg.Connection, ref: str) -> Model:
    """`provider/model_name@version` -> the registry's model; one clear line otherwise."""
    provider, slash, rest = ref.strip().partition("/")
    name, at, version = rest.rpartition("@")
    if not (slash and at and provider and name and version):
        raise InvalidInput(
            f"model {ref!r} is not provider/model_name@version (e.g. openai/gpt-4o@2024-08-06)"
        )
    row = conn.execute(
        "SELECT id FROM app.model_registry WHERE provider = %s AND model_name = %s AND version = %s",
        (provider, name, version),
    ).fetchone()
    if row is None:
        known = [r[0] for r in conn.execute(
            "SELECT provider || '/' || model_name || '@' || version FROM app.model_registry"
            " WHERE provider = %s ORDER BY 1 LIMIT 10", (provider,))]  # fmt: skip
        hint = (
            f"; {provider}'s: {', '.join(known)}"
            if known
            else "; `platformctl prices list` shows the models"
        )
        raise InvalidInput(f"unknown model {ref!r}{hint}")
    return Model(row[0], f"{provider}/{name}@{version}")


def list_versions(conn: psycopg.Connection, model: Model | None = None) -> list[PriceVersion]:
    rows = conn.execute(
        read_sql(__package__, "list_prices.sql"), {"model_id": model.id if model else None}
    ).fetchall()
    return [PriceVersion(*r[:9], rates=dict(zip(RATE_COLUMNS, r[9:], strict=True))) for r in rows]


def parse_rates(assignments: list[str]) -> dict[str, Decimal | None]:
    """`column=decimal` (or `column=null`: not offered) -> {column: value}; one line per mistake."""
    if not assignments:
        raise InvalidInput("a correction needs at least one --rate <rate_column>=<decimal>")
    rates: dict[str, Decimal | None] = {}
    for text in assignments:
        column, eq, value = text.partition("=")
        column, value = column.strip(), value.strip()
        if not eq:
            raise InvalidInput(f"--rate {text!r}: expected <rate_column>=<decimal>")
        if column not in RATE_COLUMNS:
            raise InvalidInput(
                f"--rate {text!r}: {column!r} is not a rate column; known: {', '.join(RATE_COLUMNS)}"
            )
        if column in rates:
            raise InvalidInput(f"--rate {column} is given twice")
        if value.lower() == "null":
            if column in ("input_usd_per_mtok", "output_usd_per_mtok"):
                raise InvalidInput(f"--rate {column}=null: input and output rates are required")
            rates[column] = None
            continue
        try:
            rate = Decimal(value)
        except InvalidOperation:
            raise InvalidInput(f"--rate {text!r}: {value!r} is not a decimal number") from None
        if (
            not rate.is_finite()
            or rate < 0
            or rate > MAX_RATE
            or rate != rate.quantize(Decimal("1e-6"))
        ):
            raise InvalidInput(
                f"--rate {text!r}: a rate is a decimal from 0 to {MAX_RATE} with at most 6 decimals"
            )
        rates[column] = rate
    return rates


def correct_price(
    conn: psycopg.Connection, price_id: int, rates: dict[str, Decimal | None], reason: str
) -> tuple[PriceVersion, PriceVersion]:
    """Supersede version `price_id` with a copy carrying `rates`: (old, new). The caller commits.
    Stored events keep their cost until a reprice recomputes them."""
    if not reason.strip():
        raise InvalidInput("a correction needs a --reason (it is kept on the new version)")
    old = _version(conn, price_id)
    if old is None:
        raise InvalidInput(f"no price version {price_id}; `platformctl prices list` shows them")
    if old.superseded_at is not None:
        current = conn.execute(
            "SELECT id FROM app.model_prices WHERE corrects = %s", (price_id,)
        ).fetchone()
        raise InvalidInput(
            f"price version {price_id} was already corrected"
            + (f" by version {current[0]}; correct that one" if current else "")
        )
    payload = {k: (str(v) if v is not None else None) for k, v in rates.items()}
    try:
        with conn.transaction():
            (new_id,) = conn.execute(
                "SELECT app.correct_model_price(%s, %s, %s)", (price_id, Jsonb(payload), reason)
            ).fetchone()
    except (psycopg.errors.InvalidParameterValue, psycopg.errors.NoDataFound,
            psycopg.errors.CheckViolation, psycopg.errors.IntegrityConstraintViolation) as exc:  # fmt: skip
        raise PricingError(
            f"cannot correct price version {price_id}: {exc.diag.message_primary}"
        ) from None
    return old, _version(conn, new_id)  # type: ignore[return-value]


def _version(conn: psycopg.Connection, price_id: int) -> PriceVersion | None:
    for version in list_versions(conn):
        if version.id == price_id:
            return version
    return None
