"""Run `platformctl ARGS...` with a fault injected into the warehouse loader: after the events of
the load are written (uncommitted), write MARKER and sleep, so a test can kill -9 the process at
that point. Usage: python paused_cli.py MARKER ARGS..."""

import sys
import time
from pathlib import Path

from dagster_project.lib.warehouse import duck, pg

marker = Path(sys.argv[1])


def pausing(original):
    def wrapper(*args, **kwargs):
        original(*args, **kwargs)
        marker.write_text("paused")
        time.sleep(3600)

    return wrapper


duck.write_loaded_hours = pausing(duck.write_loaded_hours)
pg.write_loaded_hours = pausing(pg.write_loaded_hours)

from dagster_project.cli import main  # noqa: E402

sys.argv = ["platformctl", *sys.argv[2:]]
main()
