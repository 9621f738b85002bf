"""Run `platformctl ARGS...` with a fault injected into the ingest loader: when shard SHARD has
staged its share of chunk CHUNK (events and keys copied, nothing committed), write MARKER and
sleep, so a test can kill -9 the process at that point.
Usage: python paused_ingest_cli.py MARKER CHUNK SHARD ARGS..."""

import sys
import time
from pathlib import Path

from dagster_project.lib.ingest.loader import ShardLoader

marker, chunk, shard = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
original_load, original_copy = ShardLoader.load, ShardLoader._copy


def load(self, work):
    self.paused_work = work
    return original_load(self, work)


def copy(self, table, data):
    original_copy(self, table, data)
    if table == "ingest_stage_keys" and (self.paused_work.chunk_no, self.shard) == (chunk, shard):
        marker.write_text("paused")
        time.sleep(3600)


ShardLoader.load, ShardLoader._copy = load, copy

from dagster_project.cli import main  # noqa: E402

sys.argv = ["platformctl", *sys.argv[4:]]
main()
