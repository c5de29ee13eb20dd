"""Timing helpers shared by the benchmarks: calibrated batches, medians of repeated runs."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable, Iterable
from importlib.metadata import PackageNotFoundError, version

REPEATS = 7


def per_second(work: Callable[[], object], budget: float = 0.25, repeats: int = REPEATS) -> float:
    """Median calls per second over `repeats` runs of about `budget` seconds each."""
    calls = 1
    while True:  # calibrate the batch size so that one run lasts about `budget`
        start = time.perf_counter()
        for _ in range(calls):
            work()
        elapsed = time.perf_counter() - start
        if elapsed > budget / 4:
            break
        calls *= 2
    calls = max(1, int(calls * budget / elapsed))
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            work()
        rates.append(calls / (time.perf_counter() - start))
    return statistics.median(rates)


def environment(packages: Iterable[str]) -> dict[str, str]:
    """What the figures were measured on."""
    found = {"python": platform.python_version(), "machine": platform.machine(), "cpus": str(os.cpu_count())}
    for package in packages:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"
    return found
