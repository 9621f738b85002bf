"""Run `platformctl ARGS...` with a fault injected into the warehouse loader: after the events of
the load are written (uncommitted), write MARKER and sleep, so a test can kill -9 the process at
that point. Usage: python paused_cli.py MARKER ARGS...

PAUSED_CLI_AT=N pauses in the Nth warehouse transaction instead of the first (the DuckDB loader
commits every duck.CHUNK_EVENTS events or CHUNK_HOURS hours; PAUSED_CLI_CHUNK_EVENTS and
PAUSED_CLI_CHUNK_HOURS set them), so the first N-1 have committed when the test kills the
process."""

import os
import sys
import time
from pathlib import Path

from dagster_project.lib.warehouse import duck, pg

marker = Path(sys.argv[1])


pause_at = int(os.environ.get("PAUSED_CLI_AT", "1"))
if "PAUSED_CLI_CHUNK_EVENTS" in os.environ:
    duck.CHUNK_EVENTS = int(os.environ["PAUSED_CLI_CHUNK_EVENTS"])
if "PAUSED_CLI_CHUNK_HOURS" in os.environ:
    duck.CHUNK_HOURS = int(os.environ["PAUSED_CLI_CHUNK_HOURS"])
calls = 0


def pausing(original):
    def wrapper(*args, **kwargs):
        global calls
        original(*args, **kwargs)
        calls += 1
        if calls == pause_at:
            marker.write_text("paused")
            time.sleep(3600)

    return wrapper


duck.write_loaded_hours = pausing(duck.write_loaded_hours)
pg.write_loaded_hours = pausing(pg.write_loaded_hours)

from dagster_project.cli import main  # noqa: E402

sys.argv = ["platformctl", *sys.argv[2:]]
main()
