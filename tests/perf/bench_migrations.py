"""Benchmark: full apply and full rollback of every migration target on a scratch database.

Run with `make bench` (or `.venv/bin/python tests/perf/bench_migrations.py`). Writes the
"migrations" section of docs/performance.md: per target the median of RUNS cycles, and the
slowest single migrations, against the seed's window (apply <= 10 min, rollback < 1 min).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import environment_line, write_section  # noqa: E402

from dagster_project.lib.migrations.config import load_config  # noqa: E402
from dagster_project.lib.migrations.cycle import scratch_database  # noqa: E402
from dagster_project.lib.migrations.runner import Runner  # noqa: E402

RUNS = 5  # enough for a stable median on a 2-core machine, cheap enough for `make bench`


def cycle(target: str) -> tuple[float, float, list[tuple[str, int]]]:
    config = load_config()
    with scratch_database(config.target(target).url()) as url:
        runner = Runner(target, config=config, url=url, actor="bench")
        started = time.perf_counter()
        applied = runner.up()
        apply_seconds = time.perf_counter() - started
        started = time.perf_counter()
        runner.down_all()
        rollback_seconds = time.perf_counter() - started
    steps = [(f"{s.version}_{s.slug}", s.duration_ms) for s in applied.steps]
    return apply_seconds, rollback_seconds, steps


def main() -> None:
    config = load_config()
    lines = [
        "## Migrations: apply and rollback window",
        "",
        "Command: `make bench` (`.venv/bin/python tests/perf/bench_migrations.py`). Each target's",
        f"migrations are applied and rolled back on a fresh scratch database, {RUNS} times; medians shown.",
        f"Environment: {environment_line()}",
        "",
        "| target | migrations | apply (median) | rollback (median) | apply window | rollback window | within |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    slowest: list[str] = []
    for target in sorted(config.targets):
        results = [cycle(target) for _ in range(RUNS)]
        apply_median = statistics.median(r[0] for r in results)
        rollback_median = statistics.median(r[1] for r in results)
        settings = config.settings
        ok = (
            apply_median <= settings.apply_window_seconds
            and rollback_median < settings.rollback_window_seconds
        )
        lines.append(
            f"| {target} | {len(results[0][2])} | {apply_median:.3f} s | {rollback_median:.3f} s | "
            f"{settings.apply_window_seconds:g} s | {settings.rollback_window_seconds:g} s | {'yes' if ok else 'NO'} |"
        )
        per_step = {}
        for _, _, steps in results:
            for name, ms in steps:
                per_step.setdefault(name, []).append(ms)
        for name, values in sorted(per_step.items(), key=lambda kv: -statistics.median(kv[1]))[:5]:
            slowest.append(f"| {target} | {name} | {statistics.median(values):.0f} ms |")
    if slowest:
        lines += [
            "",
            "Slowest migrations (median of the runs):",
            "",
            "| target | migration | apply |",
            "|---|---|---:|",
            *slowest,
        ]
    path = write_section("migrations", "\n".join(lines))
    print("\n".join(lines))
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
