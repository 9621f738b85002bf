"""The seeded entities traffic is generated for: organizations, members, API keys and models.

Read from the seed fixtures (seeds/operational/*.yml) through lib/seeds, with the same uuid5 ids
the seeding derives (lib/seeds/ids.py), so generating needs no database and always names rows
that `platformctl seed` creates.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from dagster_project.lib.errors import InvalidInput
from dagster_project.lib.paths import SEEDS_DIR
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
class Model:
    ref: str  # how an event names it: `provider/model_name@version`, as the seed fixtures do
    name: str
    context_window: int
    status: str
    prices: tuple[tuple[datetime, datetime | None], ...]  # [effective_from, effective_to)

    @property
    def embedding(self) -> bool:
        return "embed" in self.name

    def priced_throughout(self, start: datetime, end: datetime) -> bool:
        """A price is in effect at every instant of [start, end): ingestion can cost each event."""
        covered = start
        for begin, until in sorted(self.prices, key=lambda p: p[0]):
            if begin > covered:
                return False  # a gap without a price
            covered = max(covered, end if until is None else until)
            if covered >= end:
                return True
        return False


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
    prices: dict[str, list[tuple[datetime, datetime | None]]] = {}
    for p in fx.prices:
        prices.setdefault(str(p["model_id"]), []).append((p["effective_from"], p["effective_to"]))
    models = tuple(
        Model(
            ref=ids.model_ref(m["provider"], m["model_name"], m["version"]),
            name=m["model_name"],
            context_window=m["context_window"],
            status=m["status"],
            prices=tuple(prices.get(str(m["id"]), [])),
        )
        for m in fx.models
    )
    catalog = Catalog(orgs, tuple(str(u["id"]) for u in fx.users), models)
    _check_json_safe(catalog)
    return catalog


def _check_json_safe(catalog: Catalog) -> None:
    # The NDJSON writer splices these strings into lines without escaping them (it is vectorised).
    for text in [o.slug for o in catalog.orgs] + [m.ref for m in catalog.models]:
        if json.dumps(text)[1:-1] != text:
            raise InvalidInput(
                f"seed name {text!r} needs JSON escaping; the generator does not do that"
            )
