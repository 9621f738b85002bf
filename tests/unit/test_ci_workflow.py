"""Drift guard: .github/workflows/db-guardrails.yml runs only `make` targets that exist, the same
ones .ci/run calls in the same order, so a local `.ci/run` proves what GitHub runs."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "db-guardrails.yml"
# `make [--flags] target [VAR=value ...]`, one command on the line.
MAKE_CALL = re.compile(
    r"^\s*make\s+(?:--?[a-z-]+\s+)*(?P<target>[a-z][a-z0-9-]*)(?P<rest>[^;&|]*)$"
)
RULE = re.compile(r"^(?P<target>[a-z][a-z0-9-]*):(?!=)", re.MULTILINE)


def makefile_targets(text: str) -> set[str]:
    return {m["target"] for m in RULE.finditer(text)}


def make_target_of(command: str) -> str:
    """The target of a one-line `make` call; ValueError for anything else."""
    lines = [line for line in command.strip().splitlines() if line.strip()]
    if len(lines) != 1:
        raise ValueError(f"not one command: {command!r}")
    match = MAKE_CALL.match(lines[0])
    if not match:
        raise ValueError(f"not a make call: {lines[0]!r}")
    for word in shlex.split(match["rest"]):
        if "=" not in word:
            raise ValueError(f"more than one target or a stray word: {lines[0]!r}")
    return match["target"]


def ci_run_targets(text: str) -> list[str]:
    """The make targets .ci/run calls, in order (comments skipped)."""
    targets = []
    for line in text.splitlines():
        if line.strip().startswith("#"):
            continue
        match = MAKE_CALL.match(line)
        if match:
            targets.append(match["target"])
    return targets


def load_workflow() -> dict:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    # YAML 1.1 reads the bare key `on` as the boolean True.
    if True in workflow:
        workflow["on"] = workflow.pop(True)
    return workflow


def workflow_steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def test_every_run_step_is_an_existing_make_target() -> None:
    targets = makefile_targets((ROOT / "Makefile").read_text())
    steps = workflow_steps(load_workflow())
    runs = [step["run"] for step in steps if "run" in step]
    assert runs, "the workflow runs nothing"
    for step in steps:
        assert ("run" in step) != ("uses" in step), f"a step must either run or use: {step}"
    for command in runs:
        target = make_target_of(command)
        assert target in targets, f"`{command.strip()}`: no target {target!r} in the Makefile"


def test_the_workflow_runs_the_targets_ci_run_calls_in_its_order() -> None:
    runs = [step["run"] for step in workflow_steps(load_workflow()) if "run" in step]
    workflow_targets = [make_target_of(command) for command in runs]
    assert workflow_targets == ci_run_targets((ROOT / ".ci" / "run").read_text())


def test_it_guards_migrations_dbt_and_seeds_on_postgres_15_and_16() -> None:
    workflow = load_workflow()
    for event in ("pull_request", "push"):
        paths = workflow["on"][event]["paths"]
        assert {"migrations/**", "dbt/**", "seeds/**"} <= set(paths), (event, paths)
    (job,) = workflow["jobs"].values()
    assert job["strategy"]["matrix"]["postgres"] == ["15", "16"]
    assert job["services"]["postgres"]["image"] == "postgres:${{ matrix.postgres }}"
    targets = {make_target_of(step["run"]) for step in job["steps"] if "run" in step}
    assert {"lint", "smoke", "db-docs-validate", "test"} <= targets


@pytest.mark.parametrize(
    ("command", "target"),
    [("make lint", "lint"), ("make --no-print-directory test ALLOW_NO_TESTS=1", "test")],
)
def test_make_calls_are_recognised(command: str, target: str) -> None:
    assert make_target_of(command) == target


@pytest.mark.parametrize(
    "command",
    ["pytest -q", "make lint && curl x", "make lint smoke", "make lint\nmake smoke", "uv sync"],
)
def test_anything_else_is_refused(command: str) -> None:
    with pytest.raises(ValueError):
        make_target_of(command)
