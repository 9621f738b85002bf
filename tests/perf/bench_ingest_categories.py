"""Benchmark: what costing the token categories (envelope 1.1, issue 10) adds to ingestion.

Run with `make bench` (or `.venv/bin/python tests/perf/bench_ingest_categories.py`;
INGEST_CATEGORIES_EVENTS overrides the 200k events, INGEST_CATEGORIES_ROUNDS the 3 rounds,
INGEST_CATEGORIES_BEFORE the commit measured as "before"). Writes the "ingest-categories" section
of docs/performance.md.

The generator's events (seed 4, as tests/perf/bench_ingest.py) are written twice: as generated
(envelope 1.0: input and output tokens only), and enriched (envelope 1.1: per event the same
total input split into uncached input, cache reads for ~60% of the events, 5-minute cache writes
for ~10%, reasoning tokens for ~30%, web search calls for 3%, 10% in the batch tier and 5% with a
provider_cost_usd). The seeded prices get every category's rate (app.correct_model_price) and a
batch tier. Then, interleaved in rounds on fresh clones of one migrated, seeded template (a
shared machine: each round sees about the same load):
  * before: the 1.0 file through the code of INGEST_CATEGORIES_BEFORE (default: the first parent
    of this branch's costing commit: ingestion with price_id and the input/output split only),
    extracted with `git archive` and put first on the child's PYTHONPATH;
  * after, 1.0: the same file through this tree;
  * after, 1.1: the enriched file through this tree.
Client CPU = the ingest process (wait4), server CPU = its PostgreSQL backends (/proc), per
submitted event; medians over the rounds.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg  # noqa: E402
from bench_ingest import BackendMeter, clone, template_database  # noqa: E402
from report import environment_line, write_section  # noqa: E402

from dagster_project.lib.db.postgres import database_url  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EVENTS = int(os.environ.get("INGEST_CATEGORIES_EVENTS", 200_000))
ROUNDS = int(os.environ.get("INGEST_CATEGORIES_ROUNDS", 3))
BEFORE = os.environ.get("INGEST_CATEGORIES_BEFORE", "76aafca")

# Every category's rate as a multiple of the model's input (or output) rate, like the providers'.
RATES = """
SELECT app.correct_model_price(p.id, jsonb_build_object(
    'cache_read_input_usd_per_mtok', round(p.input_usd_per_mtok * 0.1, 6),
    'cache_write_5m_input_usd_per_mtok', round(p.input_usd_per_mtok * 1.25, 6),
    'cache_write_1h_input_usd_per_mtok', round(p.input_usd_per_mtok * 2, 6),
    'reasoning_output_usd_per_mtok', p.output_usd_per_mtok,
    'audio_input_usd_per_mtok', round(p.input_usd_per_mtok * 16, 6),
    'audio_output_usd_per_mtok', round(p.output_usd_per_mtok * 8, 6),
    'image_input_usd_per_mtok', p.input_usd_per_mtok,
    'image_output_usd_per_mtok', round(p.output_usd_per_mtok * 4, 6),
    'web_search_usd_per_kcall', 10, 'tool_call_usd_per_kcall', 30), 'bench: every category')
FROM app.model_prices AS p
WHERE p.superseded_at IS NULL AND p.service_tier = 'standard'
"""
BATCH = """
INSERT INTO app.model_prices (model_id, service_tier, above_input_tokens, effective_from,
    effective_to, input_usd_per_mtok, output_usd_per_mtok, cache_read_input_usd_per_mtok,
    cache_write_5m_input_usd_per_mtok, cache_write_1h_input_usd_per_mtok,
    reasoning_output_usd_per_mtok, web_search_usd_per_kcall, tool_call_usd_per_kcall)
SELECT model_id, 'batch', 0, effective_from, effective_to, round(input_usd_per_mtok / 2, 6),
       round(output_usd_per_mtok / 2, 6), round(cache_read_input_usd_per_mtok / 2, 6),
       round(cache_write_5m_input_usd_per_mtok / 2, 6), round(cache_write_1h_input_usd_per_mtok / 2, 6),
       round(reasoning_output_usd_per_mtok / 2, 6), web_search_usd_per_kcall, tool_call_usd_per_kcall
FROM app.model_prices WHERE superseded_at IS NULL AND service_tier = 'standard'
"""


def enrich(line: str, rng: random.Random) -> str:
    """The same event in envelope 1.1 (same total input; invalid lines left as they are)."""
    try:
        event = json.loads(line)
        total, output = int(event["input_tokens"]), int(event["output_tokens"])
    except (ValueError, KeyError, TypeError):
        return line
    if total < 0 or output < 0 or total > 2**31 - 1:
        return line
    if rng.random() < 0.6:
        cached = int(total * rng.uniform(0.2, 0.9))
        event["cache_read_input_tokens"], total = cached, total - cached
    if rng.random() < 0.1:
        written = total // 3
        event["cache_write_5m_input_tokens"], total = written, total - written
    event["input_tokens"] = total
    if rng.random() < 0.3:
        event["reasoning_output_tokens"] = int(output * rng.uniform(0.5, 4))
    if rng.random() < 0.03:
        event["web_search_calls"] = rng.randint(1, 3)
    if rng.random() < 0.1:
        event["service_tier"] = "batch"
    if rng.random() < 0.05:
        event["provider_cost_usd"] = f"{rng.uniform(0, 0.5):.12f}"
    return json.dumps(event, separators=(",", ":"))


def generate(directory: Path) -> tuple[Path, Path]:
    from datetime import UTC, datetime, timedelta

    from dagster_project.lib.generate import GenerateOptions, generate_usage, load_catalog

    old = directory / "usage-1.0.ndjson"
    start = datetime.now(UTC).date() - timedelta(days=2)
    generate_usage(GenerateOptions(output=old, start=start, days=2, events=EVENTS, seed=4),
                   load_catalog())  # fmt: skip
    new = directory / "usage-1.1.ndjson"
    rng = random.Random(4)
    with open(old) as src, open(new, "w") as out:
        for line in src:
            out.write(enrich(line.rstrip("\n"), rng) + "\n")
    return old, new


def before_tree(directory: Path) -> Path:
    """The `BEFORE` commit's files (git archive: no worktree, no change to the repository)."""
    data = subprocess.run(["git", "-C", str(ROOT), "archive", BEFORE], check=True,
                          capture_output=True).stdout  # fmt: skip
    tree = directory / "before"
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(tree, filter="data")
    return tree


def run(template: str, path: Path, code: Path, label: str) -> dict:
    child = code / "tests" / "perf" / "bench_ingest.py"
    with clone(template) as url, BackendMeter(url, "ingest-%") as meter:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, str(child), "--child", url, str(path), "1"],
            stdout=subprocess.PIPE, text=True, cwd=code, env={**os.environ, "PYTHONPATH": str(code)},
        )  # fmt: skip
        output = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        with psycopg.connect(url) as conn:
            costs = conn.execute(
                "SELECT count(*), count(*) FILTER (WHERE cost_source = 'provider'), sum(cost_usd) "
                "FROM app.usage_events").fetchone()  # fmt: skip
    if status != 0:
        raise RuntimeError(f"ingest child failed ({status}): {output}")
    result = json.loads(output.strip().splitlines()[-1])["result"]
    assert result["state"] == "loaded", result
    n = result["submitted"]
    return {"kind": label, "rows": n, "wall": result["seconds"], "process_wall": wall,
            "client_us": (usage.ru_utime + usage.ru_stime) / n * 1e6,
            "server_us": None if meter.seconds is None else meter.seconds / n * 1e6,
            "accepted": result["accepted"], "quarantined": result["quarantined"],
            "stored": costs[0], "provider": costs[1], "cost": str(costs[2])}  # fmt: skip


def main() -> None:
    load_before = os.getloadavg()
    uptime_before = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    with (
        tempfile.TemporaryDirectory(prefix="bench-categories-") as tmp,
        template_database(database_url()) as template,
    ):
        with psycopg.connect(template, autocommit=True) as conn:
            conn.execute(RATES)
            conn.execute(BATCH)
        old_file, new_file = generate(Path(tmp))
        before = before_tree(Path(tmp))
        runs = []
        for _ in range(ROUNDS):
            runs.append(run(template, old_file, before, "before, envelope 1.0"))
            runs.append(run(template, old_file, ROOT, "after, envelope 1.0"))
            runs.append(run(template, new_file, ROOT, "after, envelope 1.1"))
    load_after = os.getloadavg()
    uptime_after = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    if os.environ.get("INGEST_BENCH_DUMP"):
        Path(os.environ["INGEST_BENCH_DUMP"]).write_text(
            json.dumps([runs, uptime_before, uptime_after, load_before, load_after])
        )
    text = render(runs, uptime_before, uptime_after)
    write_section("ingest-categories", text)
    print(text)


def render(runs: list[dict], uptime_before: str, uptime_after: str) -> str:
    kinds = list(dict.fromkeys(r["kind"] for r in runs))
    med = {k: {m: statistics.median(r[m] for r in runs if r["kind"] == k)
               for m in ("client_us", "server_us", "wall")} for k in kinds}  # fmt: skip
    base, same, rich = (med[k] for k in kinds)
    lines = [
        "## Ingest: the cost of the token categories (issue 10)",
        "",
        "Command: `.venv/bin/python tests/perf/bench_ingest_categories.py` (also run by `make bench`).",
        f"{runs[0]['rows']:,} generated events (seed 4, as the ingest benchmark: 1% duplicates, 0.5%",
        "invalid, 70% with metadata), 1 shard, each run on a fresh clone; the three variants",
        f'interleaved, {len(runs) // len(kinds)} rounds, medians. "before" = commit {BEFORE} '
        "(ingestion recording price_id and the",
        "input/output split only), run from a `git archive` of it. The 1.1 file: the same events with",
        "the total input split into cache reads (~60% of events), 5-minute cache writes (~10%),",
        "reasoning tokens (~30%), web search calls (3%), 10% batch tier, 5% provider_cost_usd.",
        f"Environment: {environment_line()}. Load (`uptime`), a machine shared with other agents:",
        f"before `{uptime_before}`; after `{uptime_after}`.",
        "",
        "| variant | client CPU µs/event | server CPU µs/event | wall s (median) |",
        "|---|---:|---:|---:|",
    ]
    for k in kinds:
        lines.append(f"| {k} | {med[k]['client_us']:.1f} | {med[k]['server_us']:.1f} | "
                     f"{med[k]['wall']:.2f} |")  # fmt: skip
    lines += [
        "",
        f"**Added by the categories: client {same['client_us'] - base['client_us']:+.1f} µs/event "
        f"for a 1.0 file and {rich['client_us'] - base['client_us']:+.1f} µs for a 1.1 file; server "
        f"{same['server_us'] - base['server_us']:+.1f} and {rich['server_us'] - base['server_us']:+.1f} "
        "µs/event** (after minus before, medians).",
        "",
        "| run | rows | accepted | quarantined | provider-cost events | sum of cost_usd | client µs/event | server µs/event | wall |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        lines.append(
            f"| {r['kind']} | {r['rows']:,} | {r['accepted']:,} | {r['quarantined']:,} | "
            f"{r['provider']:,} | {r['cost']} | {r['client_us']:.1f} | {r['server_us']:.1f} | {r['wall']:.2f} s |"
        )
    lines += ["", NOTES.strip()]
    return "\n".join(lines)


NOTES = """
"before" and "after, 1.0" store the same events with the same sum of cost_usd (the table's
column), so the 1.0 path is unchanged in result. The 1.1 sum is higher: reasoning tokens are
added on top of the output, and 5% of the events carry a provider figure.

Where the added client time goes (the validator's steps timed apart, CPU per line on 100k of
the same events, one DuckDB thread, load ~5, before -> after, 1.0 file): the typed parse
5.6-6.7 -> 7.7-9.0 us (twelve more properties: paths in the JSON type list, struct fields,
checks), enrichment 3.9-4.3 -> 6.7-7.2 us (the service/context tier choice, twelve exact
DECIMAL(38,12) products rounded, the unpriced-category list, the cost checks), the accepted rows
5.5-5.9 -> 6.6-7.2 us (23 more columns). Server: the staging COPY and the INSERT carry 23 more
columns, ~1.2 us/event. Tried while building it:

| attempt | measured (us/line CPU) | kept? |
|---|---|---|
| the exact-number regexes for provider_cost_usd as operands of an AND in the `ok` projection | typed parse 14.4 (DuckDB evaluates every operand of an AND in a projection: the regexes ran on every line) vs 7.9 in a CASE that runs them on numbers only | CASE |
| metadata-as-sent lines found by a semi join with the regexes in its ON clause | accepted rows 264 (no hash join) vs 6.6 with the regexes in a subquery joined on line_no | subquery |
| the model lookup as its own CTE joined back twice vs once in the projection | enrichment 7.2-7.5 vs 6.7-7.2 (noise-sized) | once |
| no context-tier aggregate (max_by over the matching rows) / no unpriced list | 7.4-7.8 and 7.3-7.4 vs 7.4-8.2: each within the noise | both kept (the contract's rule) |
"""


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--render":
        saved = json.loads(Path(sys.argv[2]).read_text())
        write_section("ingest-categories", render(*saved[:3]))
    else:
        main()
