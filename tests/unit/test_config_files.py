"""configs/*.yaml: every file loads through the one strict loader (lib/config.py), and that
loader refuses unknown keys, wrong types, former names and non-mappings with one line naming the
file, the key and what was expected (issue 9 §3)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from dagster_project.lib import config as config_file
from dagster_project.lib.config import ConfigFileError, Duration
from dagster_project.lib.docs.classification import ClassificationError, load_classification
from dagster_project.lib.errors import PlatformError
from dagster_project.lib.ingest.config import IngestError
from dagster_project.lib.ingest.config import load_config as load_ingest
from dagster_project.lib.migrations.config import load_config as load_migrate
from dagster_project.lib.migrations.errors import ConfigError
from dagster_project.lib.partitions.config import PartitionError, load_policy
from dagster_project.lib.paths import CONFIGS_DIR


def _dagster_instance(path: Path) -> object:
    # Dagster's instance config has Dagster's schema, and Dagster validates it strictly (an
    # unknown key is a DagsterInvalidConfigError); env-var references need not be set for that.
    from dagster._core.instance.config import dagster_instance_config

    return dagster_instance_config(str(path.parent), path.name)


LOADERS: dict[str, Callable[[Path], object]] = {
    "migrate.yaml": load_migrate,
    "ingest.yaml": load_ingest,
    "partitions.yaml": lambda path: load_policy(path=path),
    "data-classification.yml": load_classification,
    "dagster.postgres.yaml": _dagster_instance,
}
ERRORS: dict[str, type[PlatformError]] = {
    "migrate.yaml": ConfigError,
    "ingest.yaml": IngestError,
    "partitions.yaml": PartitionError,
    "data-classification.yml": ClassificationError,
}


def test_every_committed_config_file_loads_through_its_strict_loader() -> None:
    files = sorted(p.name for p in CONFIGS_DIR.iterdir() if p.suffix in (".yaml", ".yml"))
    assert files == sorted(LOADERS), "a new configs/ file needs a strict loader (lib/config.py)"
    for name in files:
        assert LOADERS[name](CONFIGS_DIR / name) is not None


def _copy(tmp_path: Path, name: str, edit: Callable[[dict], None]) -> Path:
    data = yaml.safe_load((CONFIGS_DIR / name).read_text())
    edit(data)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("name", "edit", "message"),
    [
        # A misspelt key was silently ignored in migrate.yaml before issue 9.
        ("migrate.yaml", lambda d: d["defaults"].update(lock_timout="1s"),
         "defaults.lock_timout: unknown key (did you mean lock_timeout?"),
        ("migrate.yaml", lambda d: d["targets"]["operational"].update(protected="no"),
         "targets.operational.protected: expected true or false, got a string 'no'"),
        ("migrate.yaml", lambda d: d["defaults"].update(lock_timeout="soon"),
         "defaults.lock_timeout: expected a duration"),
        ("migrate.yaml", lambda d: d["telemetry"].update(exporter="stdout"),
         "telemetry.exporter: expected one of console, otlp, none, got a string 'stdout'"),
        ("migrate.yaml", lambda d: d.update(connection=[1]),
         "connection: expected a mapping, got a list"),
        ("ingest.yaml", lambda d: d.update(batch_size="50k"),
         "batch_size: expected an integer, got a string '50k'"),
        ("ingest.yaml", lambda d: d.update(shards=1.5), "shards: expected an integer, got a number"),
        ("ingest.yaml", lambda d: d.update(max_atempts=3), "max_atempts: unknown key"),
        ("partitions.yaml", lambda d: d["tables"]["app.usage_events"].update(on_expiry="archive"),
         "tables.app.usage_events.on_expiry: expected one of detach, drop"),
        ("partitions.yaml", lambda d: d["tables"]["app.usage_events"].pop("future_days"),
         "tables.app.usage_events.future_days: missing (expected an integer)"),
        ("data-classification.yml",
         lambda d: d["tables"]["app.api_keys"]["id"].update(retension="1y"),
         "tables.app.api_keys.id.retension: unknown key (did you mean retention?"),
    ],
)  # fmt: skip
def test_a_bad_key_or_type_is_one_line_naming_file_key_and_type(tmp_path, name, edit, message):
    path = _copy(tmp_path, name, edit)
    with pytest.raises(ERRORS[name]) as failure:
        LOADERS[name](path)
    text = str(failure.value)
    assert text.startswith(f"{path}: ") and message in text and "\n" not in text


def test_retention_days_in_ingest_yaml_is_refused_with_its_new_name(tmp_path):
    # Two meanings, one name: partitions.yaml's retention_days is the partitions' expiry;
    # ingest's (how old an event may be on arrival) is max_event_age_days.
    path = _copy(
        tmp_path, "ingest.yaml", lambda d: d.update(retention_days=d.pop("max_event_age_days"))
    )
    with pytest.raises(IngestError, match=r"retention_days: renamed: use max_event_age_days"):
        load_ingest(path)


@pytest.mark.parametrize("name", sorted(ERRORS))
@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n", "key: [unclosed\n"])
def test_a_file_that_is_not_a_mapping_is_one_line(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ERRORS[name], match=f"^{path}: (expected a mapping|invalid YAML)") as e:
        LOADERS[name](path)
    assert "\n" not in str(e.value)


@dataclass(frozen=True)
class _Inner:
    wait: Duration = 1000
    mode: Literal["a", "b"] = "a"


@dataclass(frozen=True)
class _Shape:
    name: str
    count: int = 0
    ratio: float = 0.5
    flag: bool = False
    inner: _Inner = field(default_factory=_Inner)
    items: dict[str, _Inner] = field(default_factory=dict)
    optional: str | None = None
    renamed: ClassVar[dict[str, str]] = {"old": "renamed: use name"}


def test_the_loader_builds_typed_values():
    built = config_file.build(
        _Shape,
        {"name": "x", "count": 3, "ratio": 1, "inner": {"wait": "2min", "mode": "b"},
         "items": {"k": {}}, "optional": None},
        where="f.yaml",
    )  # fmt: skip
    assert built == _Shape("x", 3, 1.0, False, _Inner(120_000, "b"), {"k": _Inner()}, None)
    assert isinstance(built.ratio, float)


_KEYS = {"name", "count", "ratio", "flag", "inner", "items", "optional"}


@settings(max_examples=60, deadline=None)
@given(key=st.text(min_size=1, max_size=20).filter(lambda k: k not in _KEYS and k != "old"))
def test_any_unknown_key_is_refused_by_name(key):
    with pytest.raises(ConfigFileError) as failure:
        config_file.build(_Shape, {"name": "x", key: 1}, where="f.yaml")
    assert f"f.yaml: {key}: unknown key" in str(failure.value)


@settings(max_examples=60, deadline=None)
@given(value=st.one_of(st.text(), st.floats(allow_nan=False), st.booleans(), st.none(),
                       st.lists(st.integers(), max_size=2)))  # fmt: skip
def test_a_non_integer_is_refused_where_an_integer_belongs(value):
    with pytest.raises(ConfigFileError, match=r"^f\.yaml: count: expected an integer, got "):
        config_file.build(_Shape, {"name": "x", "count": value}, where="f.yaml")


def test_a_former_key_names_its_replacement():
    with pytest.raises(ConfigFileError, match=r"^f\.yaml: old: renamed: use name$"):
        config_file.build(_Shape, {"name": "x", "old": 1}, where="f.yaml")
