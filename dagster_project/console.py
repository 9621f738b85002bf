"""The Rich consoles every `platformctl` command prints through.

On a terminal Rich fits output to the window. Piped or redirected (a script, `| grep`, a CI log),
Rich would assume 80 columns and wrap or cut table cells with "…", losing counts and names; a
console from here is as wide as its content instead, so every table row stays one whole line.
$COLUMNS, when set, still wins. Scripts should prefer each command's `--json`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from rich.console import Console, ConsoleDimensions
from rich.segment import Segment

# Not a terminal: lines up to this wide are never wrapped or truncated. Far above any real row
# (the widest, `migrate status`'s pending list, is ~2,000 characters with 50 pending files).
PIPED_WIDTH = 100_000
_TRAILING_SPACES = re.compile(r" +\n")


class PlatformConsole(Console):
    """A Console that does not wrap or truncate at 80 columns when its output is not a terminal."""

    @property
    def size(self) -> ConsoleDimensions:
        size = super().size
        if self._width is None and not self.is_terminal:
            return ConsoleDimensions(PIPED_WIDTH, size.height)
        return size

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        # A table pads every cell to its column's width: at PIPED_WIDTH one long cell would give
        # every other row that many trailing spaces. Piped, they carry nothing: drop them.
        text = super()._render_buffer(buffer)
        return text if self.is_terminal else _TRAILING_SPACES.sub("\n", text)


def make_console(*, stderr: bool = False, **options: Any) -> PlatformConsole:
    """stdout (or stderr) console; `options` as for rich.console.Console."""
    return PlatformConsole(stderr=stderr, **options)
