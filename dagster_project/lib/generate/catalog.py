"""The seeded entities traffic is generated for: organizations, members, API keys and models.

Read from the seed fixtures (seeds/operational/*.yml) through lib/seeds, with the same uuid5 ids
the seeding derives (lib/seeds/ids.py), so generating needs no database and always names rows
that `platformctl seed` creates.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from dagster_project.lib.errors import InvalidInput
from dagster_project.lib.paths import SEEDS_DIR
from dagster_project.lib.pricing.categories import CATEGORIES
from dagster_project.lib.seeds import ids
from dagster_project.lib.seeds.operational import load_operational

# Members with this role only look at dashboards: they make no requests of their own.
NON_CALLING_ROLES = frozenset({"viewer"})


@dataclass(frozen=True)
class Org:
    id: str
    slug: str
    status: str
    member_ids: tuple[str, ...]  # every member, whatever the role
    caller_ids: tuple[str, ...]  # members who send requests
    api_key_ids: tuple[str, ...]  # keys that are not revoked


@dataclass(frozen=True)
class Price:
    """One price version of app.model_prices (current ones only: seeds hold no superseded rows)."""

    service_tier: str  # standard | batch | priority | flex
    above_input_tokens: int  # 0 = the base price; else it prices calls with more total input
    effective_from: datetime
    effective_to: datetime | None
    rates: tuple[Decimal | None, ...]  # per category of CATEGORIES; None = not offered

    def overlaps(self, start: datetime, end: datetime) -> bool:
        return self.effective_from < end and (
            self.effective_to is None or self.effective_to > start
        )


@dataclass(frozen=True)
class Model:
    ref: str  # how an event names it: `provider/model_name@version`, as the seed fixtures do
    name: str
    context_window: int
    status: str
    price_rows: tuple[Price, ...]  # every price version: tiers, context tiers, rates

    @property
    def embedding(self) -> bool:
        return "embed" in self.name

    def periods(self, tier: str = "standard") -> list[tuple[datetime, datetime | None]]:
        """The tier's base prices' periods [effective_from, effective_to): what makes an event of
        that tier costable at all (an envelope-1.0 event is standard tier)."""
        return [
            (p.effective_from, p.effective_to)
            for p in self.price_rows
            if p.service_tier == tier and p.above_input_tokens == 0
        ]

    def priced_throughout(self, start: datetime, end: datetime, tier: str = "standard") -> bool:
        """A price is in effect at every instant of [start, end): ingestion can cost each event."""
        periods = self.periods(tier)
        covered = start
        for begin, until in sorted(periods, key=lambda p: p[0]):
            if begin > covered:
                return False  # a gap without a price
            covered = max(covered, end if until is None else until)
            if covered >= end:
                return True
        return False

    def rows_over(self, tier: str, start: datetime, end: datetime) -> list[Price]:
        """The tier's price versions (every context tier) in effect at some instant of [start, end)."""
        return [p for p in self.price_rows if p.service_tier == tier and p.overlaps(start, end)]

    def offered(self, tier: str, start: datetime, end: datetime) -> tuple[bool, ...]:
        """Per category: priced by every version of the tier that can apply in [start, end), so
        a count in it is costable whatever the time or the call's context tier. All False when
        the tier is not priced throughout."""
        rows = self.rows_over(tier, start, end)
        if not rows or not self.priced_throughout(start, end, tier):
            return (False,) * len(CATEGORIES)
        return tuple(all(p.rates[i] is not None for p in rows) for i in range(len(CATEGORIES)))

    def unpriced(self, tier: str, start: datetime, end: datetime) -> tuple[bool, ...]:
        """Per category: priced by no version of the tier in [start, end), so a count in it is
        `unpriced_category` whichever version ingestion picks."""
        rows = self.rows_over(tier, start, end)
        return tuple(all(p.rates[i] is None for p in rows) for i in range(len(CATEGORIES)))


@dataclass(frozen=True)
class Catalog:
    orgs: tuple[Org, ...]
    user_ids: tuple[str, ...]  # every seeded user
    models: tuple[Model, ...]

    def org(self, key: str) -> Org:
        for org in self.orgs:
            if key in (org.slug, org.id):
                return org
        raise InvalidInput(
            f"no seeded organization {key!r}; known: {', '.join(o.slug for o in self.orgs)}"
        )


def load_catalog(seeds_dir: Path = SEEDS_DIR) -> Catalog:
    fx = load_operational(seeds_dir / "operational")
    members: dict[str, list[tuple[str, str]]] = {}
    for m in fx.memberships:
        members.setdefault(str(m["organization_id"]), []).append((str(m["user_id"]), m["role"]))
    keys: dict[str, list[str]] = {}
    for k in fx.keys:
        if not k.revoked:  # a revoked key is refused before any request is made
            keys.setdefault(k.organization, []).append(str(ids.api_key_id(k.organization, k.name)))
    orgs = tuple(
        Org(
            id=str(o["id"]),
            slug=o["slug"],
            status=o["status"],
            member_ids=tuple(u for u, _ in members.get(str(o["id"]), [])),
            caller_ids=tuple(
                u for u, r in members.get(str(o["id"]), []) if r not in NON_CALLING_ROLES
            ),
            api_key_ids=tuple(keys.get(o["slug"], [])),
        )
        for o in fx.organizations
    )
    rows: dict[str, list[Price]] = {}
    for p in fx.prices:
        if p.get("superseded_at") is not None:
            continue  # a corrected version: ingestion never picks it
        # Fixtures name the columns of app.model_prices; absent ones take the table's defaults.
        rows.setdefault(str(p["model_id"]), []).append(
            Price(
                service_tier=p.get("service_tier") or "standard",
                above_input_tokens=int(p.get("above_input_tokens") or 0),
                effective_from=p["effective_from"],
                effective_to=p.get("effective_to"),
                rates=tuple(_rate(p.get(c.rate)) for c in CATEGORIES),
            )
        )
    models = tuple(
        Model(
            ref=ids.model_ref(m["provider"], m["model_name"], m["version"]),
            name=m["model_name"],
            context_window=m["context_window"],
            status=m["status"],
            price_rows=tuple(rows.get(str(m["id"]), [])),
        )
        for m in fx.models
    )
    catalog = Catalog(orgs, tuple(str(u["id"]) for u in fx.users), models)
    _check_json_safe(catalog)
    return catalog


def _rate(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _check_json_safe(catalog: Catalog) -> None:
    # The NDJSON writer splices these strings into lines without escaping them (it is vectorised).
    for text in [o.slug for o in catalog.orgs] + [m.ref for m in catalog.models]:
        if json.dumps(text)[1:-1] != text:
            raise InvalidInput(
                f"seed name {text!r} needs JSON escaping; the generator does not do that"
            )
