"""Progress for long runs: a bar with records/s, bytes read and ETA on a terminal; nothing elsewhere (logs and
CI want the summary, not a redrawn line)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from tqdm import tqdm

Progress = Callable[[int, int], None]


@contextmanager
def progress_bar(total_bytes: int | None, stream: TextIO) -> Iterator[Progress | None]:
    """A callback taking (bytes read, records read), or None when `stream` is not a terminal."""
    if not stream.isatty():
        yield None
        return
    with tqdm(total=total_bytes, unit="B", unit_scale=True, unit_divisor=1024, file=stream, dynamic_ncols=True) as bar:

        def update(done_bytes: int, records: int) -> None:
            bar.update(done_bytes - bar.n)
            rate = records / bar.format_dict["elapsed"] if bar.format_dict["elapsed"] else 0.0
            bar.set_postfix_str(f"{records:,} records, {rate:,.0f} records/s", refresh=False)

        yield update
