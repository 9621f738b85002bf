"""Deterministic ids for seeded rows: uuid5 of a fixed namespace and the row's natural key.

The same fixture gives the same ids in every database, so fixtures (analytics events), tests
and people can refer to seeded rows by id, and a second run finds the rows the first one wrote.
Natural keys are the names a person would use: an organization's slug, a user's email, a key's
name within its organization, a model's `provider/model_name@version`.
"""

from __future__ import annotations

import uuid

# Fixed forever: changing it changes every seeded id.
NAMESPACE = uuid.UUID("409a1f54-c4a4-4cf6-80df-e83ebe8cb8a7")


def seed_id(kind: str, natural_key: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"{kind}:{natural_key}")


def organization_id(slug: str) -> uuid.UUID:
    return seed_id("organization", slug)


def user_id(email: str) -> uuid.UUID:
    return seed_id("user", email.lower())


def api_key_id(org_slug: str, name: str) -> uuid.UUID:
    return seed_id("api_key", f"{org_slug}/{name}")


def model_ref(provider: str, model_name: str, version: str) -> str:
    """How fixtures name a model: `provider/model_name@version`."""
    return f"{provider}/{model_name}@{version}"


def model_id(ref: str) -> uuid.UUID:
    return seed_id("model", ref)


def budget_id(org_slug: str, model: str | None, period: str) -> uuid.UUID:
    # One budget per (organization, model or all models, period), as uq_budgets_* says.
    return seed_id("budget", f"{org_slug}/{model or '*'}/{period}")
