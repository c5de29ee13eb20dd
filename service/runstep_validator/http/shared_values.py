"""The two series that every request changes, written straight into shared memory, and read back by a collector.

Through prometheus_client's `Histogram.observe` and `Counter.inc` in multiprocess mode each change costs about half
a microsecond of Python (a lock, a process id check, a dictionary lookup, a slice assignment); a request changes
three values, and on the smallest requests that was a tenth of the server's throughput. Here each process keeps
these values in a file of its own, in a format of this module (not prometheus_client's, whose file format is not
part of its interface), each change one store through a view of doubles; `RequestSeriesCollector`, a custom
collector as prometheus_client documents them, adds up every process's files when `/metrics` is scraped. A value
is in shared memory before the request's answer is sent, so a worker killed at any moment loses no count that a
client saw; the files of dead workers stay in the directory and are counted on.

A file: its first 8 bytes hold how many bytes are in use (written last, once an entry is whole), then entries,
each a key length and a value count (two 4-byte integers), the key (JSON: the metric's short name and its label
values), spaces up to an 8-byte boundary, and the values as doubles.
"""

from __future__ import annotations

import bisect
import math
import mmap
import os
import struct
import threading
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Final, NamedTuple

import msgspec
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

FILE_SUFFIX: Final = ".requests"  # not `.db`: prometheus_client's MultiProcessCollector reads those
_USED: Final = struct.Struct("q")
_ENTRY: Final = struct.Struct("ii")  # key length, value count
_FIRST_ENTRY: Final = 8
_INITIAL_SIZE: Final = 1 << 16
_DURATION_KEY: Final = "duration"
_VALIDATIONS_KEY: Final = "validations"


class MetricName(NamedTuple):
    """A metric's name (without `_total`), help text and label names, as prometheus_client takes them."""

    name: str
    help_text: str
    labels: Sequence[str]


class SharedValues:
    """Values in one file, owned by this process: entries are appended and values changed in place through
    `doubles`, indexed by what `slot` returned."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._map = self._mapped("x+b", _INITIAL_SIZE)  # a new file: each process writes its own
        self._used = _FIRST_ENTRY
        self._map[0:8] = _USED.pack(self._used)
        self.doubles = memoryview(self._map).cast("d")

    def _mapped(self, mode: str, size: int) -> mmap.mmap:
        with open(self._path, mode) as file:  # the map keeps a descriptor of its own
            file.truncate(size)
            return mmap.mmap(file.fileno(), size)

    def slot(self, key: str, count: int = 1) -> int:
        """`count` new values named `key`, at 0: the index in `doubles` of the first."""
        encoded = key.encode()
        padding = b" " * (-(_ENTRY.size + len(encoded)) % 8)  # the values start 8-byte aligned
        entry = _ENTRY.pack(len(encoded), count) + encoded + padding + bytes(8 * count)
        if self._used + len(entry) > len(self._map):
            # A larger map of the same file: every index handed out stays valid in its view.
            self._map = self._mapped("r+b", max(2 * len(self._map), self._used + len(entry)))
            self.doubles = memoryview(self._map).cast("d")
        self._map[self._used : self._used + len(entry)] = entry
        self._used += len(entry)
        self._map[0:8] = _USED.pack(self._used)  # last: a reader sees the entry only once it is whole
        return (self._used - 8 * count) // 8


def read_values(path: Path) -> Iterator[tuple[str, tuple[float, ...]]]:
    """The entries of a file `SharedValues` writes (or wrote, in a process that has died): key and values."""
    data = path.read_bytes()
    if len(data) < _FIRST_ENTRY:
        return  # a file its process has only just made
    (used,) = _USED.unpack_from(data)
    at = _FIRST_ENTRY
    while at < min(used, len(data)):
        key_length, count = _ENTRY.unpack_from(data, at)
        key_start = at + _ENTRY.size
        values_start = key_start + key_length + (-(_ENTRY.size + key_length) % 8)
        key = data[key_start : key_start + key_length].decode()
        yield key, struct.unpack_from(f"{count}d", data, values_start)
        at = values_start + 8 * count


def le_label(bound: float) -> str:
    """A bucket bound as Prometheus writes `le` (`0.5`, `1.0`, `+Inf`)."""
    return "+Inf" if math.isinf(bound) else repr(float(bound))


class RequestSeries:
    """The request duration histogram (route, method, status) and the validations counter (schema, verdict) of
    one process, in a file of `directory` that `RequestSeriesCollector` reads."""

    def __init__(self, directory: str, bounds: Sequence[float]) -> None:
        # Named by the process and a random part: a worker that reuses a dead one's process id must not meet its
        # file, whose counts still belong in the sums.
        owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._values = SharedValues(os.path.join(directory, owner + FILE_SUFFIX))
        self._bounds = [*bounds, float("inf")]
        # Values are changed from the event loop and from the pool's threads (large batches).
        self._lock = threading.Lock()
        self._answered: dict[tuple[str, str, int], int] = {}
        self._validated: dict[tuple[str, bool], int] = {}

    def answered(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        total = self._answered.get(key)
        if total is None:  # the sum, then one count per bucket
            encoded = msgspec.json.encode([_DURATION_KEY, route, method, str(status)]).decode()
            with self._lock:
                total = self._answered[key] = self._values.slot(encoded, 1 + len(self._bounds))
        bucket = total + 1 + bisect.bisect_left(self._bounds, seconds)  # the first bound at or above it: `le`
        with self._lock:
            doubles = self._values.doubles
            doubles[total] += seconds
            doubles[bucket] += 1.0

    def validated(self, schema: str, valid: bool, count: int = 1) -> None:
        index = self._validated.get((schema, valid))
        if index is None:
            encoded = msgspec.json.encode([_VALIDATIONS_KEY, schema, "valid" if valid else "invalid"]).decode()
            with self._lock:
                index = self._validated[schema, valid] = self._values.slot(encoded)
        with self._lock:
            self._values.doubles[index] += count


class RequestSeriesCollector(Collector):
    """The sums over every process's `RequestSeries` files in `directory`, as a prometheus_client collector."""

    def __init__(self, directory: str, duration: MetricName, bounds: Sequence[float], validations: MetricName):
        self._directory = Path(directory)
        self._duration = duration
        self._bounds = [*bounds, float("inf")]
        self._validations = validations

    def collect(self) -> Iterator[Metric]:
        durations: dict[tuple[str, ...], list[float]] = {}
        validations: dict[tuple[str, ...], float] = {}
        for path in sorted(self._directory.glob("*" + FILE_SUFFIX)):
            for key, values in read_values(path):
                kind, *labels = msgspec.json.decode(key)
                if kind == _DURATION_KEY:
                    sums = durations.setdefault(tuple(labels), [0.0] * len(values))
                    for index, value in enumerate(values):
                        sums[index] += value
                elif kind == _VALIDATIONS_KEY:
                    validations[tuple(labels)] = validations.get(tuple(labels), 0.0) + values[0]
        histogram = HistogramMetricFamily(self._duration.name, self._duration.help_text, labels=self._duration.labels)
        for labels, (total, *counts) in durations.items():
            cumulative, buckets = 0.0, []
            for bound, count in zip(self._bounds, counts, strict=True):
                cumulative += count
                buckets.append((le_label(bound), cumulative))
            histogram.add_metric(list(labels), buckets, total)
        yield histogram
        counter = CounterMetricFamily(
            self._validations.name, self._validations.help_text, labels=self._validations.labels
        )
        for labels, value in validations.items():
            counter.add_metric(list(labels), value)
        yield counter
