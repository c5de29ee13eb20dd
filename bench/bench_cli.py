"""Command-line start-up against the files: one invocation on 1 and on N small files, so the cost per file and the
fixed cost of starting are measured apart. Medians of repeated runs of the real console script."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "message_creation.json"
SCRIPT = Path(sys.executable).with_name("runstep-validator")
RUNS = 5
FILES = 1000


def seconds(paths: list[str]) -> float:
    timings = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run([str(SCRIPT), "validate", *paths], check=True, capture_output=True)
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        for number in range(FILES):
            shutil.copy(EXAMPLE, folder / f"step-{number:04}.json")
        one = seconds([str(folder / "step-0000.json")])
        many = seconds([str(folder)])
    per_file = (many - one) / (FILES - 1)
    print(f"CLI: runstep-validator validate, {EXAMPLE.stat().st_size} B files, median of {RUNS} runs")
    print(f"  1 file:      {one * 1000:7.0f} ms   (start-up: interpreter, imports, schemas)")
    print(f"  {FILES} files: {many * 1000:7.0f} ms   ({per_file * 1e6:.0f} us per file)")
    print(f"  start-up is {one / many:.0%} of the {FILES}-file run; files dominate from ~{one / per_file:,.0f} files")


if __name__ == "__main__":
    main()
