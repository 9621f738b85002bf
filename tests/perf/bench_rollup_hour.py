"""Benchmark: one UTC hour with 1M events, from the scheduled run's start to checks passed and
published, on both warehouse engines (issue 8: seed < 5 min, goal <= 60 s).

Run with `make bench` (or `.venv/bin/python tests/perf/bench_rollup_hour.py`;
ROLLUP_BENCH_EVENTS overrides the 1M). Writes the "rollup-hour" section of docs/performance.md.

A scratch operational database gets the events in one hour (set-based insert; the rollup trigger
keeps app.usage_hourly). Per engine, into a freshly migrated warehouse:
  * `dagster job execute -m dagster_project -j hourly_rollup_job --tags dagster/partition=H`:
    what the hourly schedule launches (load, rebuild, reconciliation + Great Expectations,
    publish, snapshot), timed from process start to exit. The daemon's own tick-to-launch
    latency (a few seconds, polling) is not in it.
  * `platformctl rollup --from H --to H+1 --json`: the same hour through every stage of both
    grains outside Dagster, for the per-stage split.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_warehouse_load import _migrated, operational  # noqa: E402
from report import environment_line, write_section  # noqa: E402

from dagster_project.lib.db.postgres import (  # noqa: E402
    database_url,
    drop_database,
    ensure_database,
    with_database,
)

EVENTS = int(os.environ.get("ROLLUP_BENCH_EVENTS", 1_000_000))
HOUR = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
BIN = Path(sys.executable).parent
GOAL_SECONDS = 60


def timed(args: list[str], env: dict, cwd: Path) -> tuple[float, str]:
    started = time.monotonic()
    proc = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(f"{args[0]} failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
    return seconds, proc.stdout


def measure(target: str, op_url: str, base: str, scratch: Path) -> dict:
    results = {}
    for mode in ("dagster", "platformctl"):  # a fresh warehouse each: both do the first load
        if target == "duckdb":
            wh = f"duckdb:///{scratch / f'{mode}.duckdb'}"
        else:
            wh = with_database(base, f"bench_rollup_{mode}_{os.getpid()}")
            ensure_database(wh)
        try:
            _migrated(wh, "analytics")
            home = scratch / f"home-{target}-{mode}"
            home.mkdir()
            env = {**os.environ, "DATABASE_URL": op_url, "WAREHOUSE_URL": wh, "DBT_TARGET": target,
                   "WAREHOUSE_PSEUDONYM_KEY": "bench-key", "DAGSTER_HOME": str(home)}  # fmt: skip
            if mode == "dagster":
                tags = json.dumps({"dagster/partition": HOUR.strftime("%Y-%m-%d-%H:%M")})
                seconds, _ = timed([str(BIN / "dagster"), "job", "execute", "-m", "dagster_project",
                                    "-j", "hourly_rollup_job", "--tags", tags], env, scratch)  # fmt: skip
                results[mode] = {"seconds": seconds}
            else:
                end = HOUR + timedelta(hours=1)
                seconds, out = timed([str(BIN / "platformctl"), "rollup", "--from", HOUR.isoformat(),
                                      "--to", end.isoformat(), "--json"], env, scratch)  # fmt: skip
                stages = {s["stage"]: s["seconds"] for s in json.loads(out)["stages"]}
                results[mode] = {"seconds": seconds, "stages": stages}
        finally:
            if target == "postgres":
                drop_database(wh)
        print(target, mode, results[mode], file=sys.stderr)
    return results


def main() -> None:
    base = database_url()
    op_url = operational(base, start=HOUR, seconds=3600, events=EVENTS)
    try:
        with tempfile.TemporaryDirectory() as scratch:
            results = {t: measure(t, op_url, base, Path(scratch)) for t in ("duckdb", "postgres")}
    finally:
        drop_database(op_url)
    print(write_section("rollup-hour", render(results)))


def render(results: dict) -> str:
    lines = [
        f"## One hour of {EVENTS:,} events, run start to checks passed and published (issue 8)",
        "",
        f"`.venv/bin/python tests/perf/bench_rollup_hour.py`. {environment_line()}. Goal: "
        f"<= {GOAL_SECONDS} s (seed: < 5 min).",
        "",
        "| Engine | `dagster job execute hourly_rollup_job` (s) | goal | `platformctl rollup` both grains (s) | its stages (s) |",
        "|---|---:|---|---:|---|",
    ]
    for target, r in results.items():
        d, p = r["dagster"]["seconds"], r["platformctl"]
        split = ", ".join(f"{k} {v:.1f}" for k, v in p["stages"].items())
        verdict = "met" if d <= GOAL_SECONDS else "missed"
        lines.append(f"| {target} | {d:.1f} | {verdict} | {p['seconds']:.1f} | {split} |")
    lines += [
        "",
        "The Dagster run includes interpreter and code-location start-up, the landing load of the "
        "hour, two dbt invocations (increment, publish), reconciliation and the Great Expectations "
        "suites, and (DuckDB) the analyst snapshot. `platformctl rollup` also rebuilds and "
        "publishes the hour's day. The schedule daemon's tick-to-launch latency is not included.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
