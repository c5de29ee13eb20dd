"""The two series that every request changes, written straight into shared memory.

prometheus_client's multiprocess mode keeps each process's values in files of its own format (described in
`prometheus_client.mmap_dict`), and `MultiProcessCollector` adds up every `*.db` file of the directory, naming the
metric type by the file name's first word. Through `Histogram.observe` and `Counter.inc` each change costs about
half a microsecond of Python (a lock, a process id check, a dictionary lookup, a slice assignment); a request
changes three values, and on the smallest requests that was a tenth of the server's throughput. Here the same
values are written in the same format, each as one store through a view of doubles, at a fifth of the cost, and
the collector reads them with everyone else's. A value is in shared memory before the request's answer is sent,
so a worker killed at any moment loses no count that a client saw.
"""

from __future__ import annotations

import bisect
import mmap
import os
import struct
import threading
import uuid
from collections.abc import Sequence
from typing import Final, NamedTuple

from prometheus_client.mmap_dict import mmap_key
from prometheus_client.utils import floatToGoString

_USED: Final = struct.Struct("i")  # the file's first 4 bytes: how many bytes are in use
_FIRST_ENTRY: Final = 8
_INITIAL_SIZE: Final = 1 << 16


class MetricName(NamedTuple):
    """A metric's name (without `_total`), help text and label names, as prometheus_client takes them."""

    name: str
    help_text: str
    labels: Sequence[str]


class SharedValues:
    """Values in one file of prometheus_client's multiprocess format, owned by this process: entries are
    appended (a key, then its value and timestamp as two aligned doubles) and values changed in place through
    `doubles`, indexed by what `slot` returned."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._map = self._mapped("x+b", _INITIAL_SIZE)  # a new file: each process writes its own
        self._used = _FIRST_ENTRY
        self._map[0:4] = _USED.pack(self._used)
        self.doubles = memoryview(self._map).cast("d")

    def _mapped(self, mode: str, size: int) -> mmap.mmap:
        with open(self._path, mode) as file:  # the map keeps a descriptor of its own
            file.truncate(size)
            return mmap.mmap(file.fileno(), size)

    def slot(self, key: str) -> int:
        """A new value named `key`, at 0: its index in `doubles`."""
        encoded = key.encode()
        padding = b" " * (8 - (len(encoded) + 4) % 8)  # the value starts 8-byte aligned
        entry = _USED.pack(len(encoded)) + encoded + padding + struct.pack("dd", 0.0, 0.0)
        if self._used + len(entry) > len(self._map):
            # A larger map of the same file: every index handed out stays valid in its view.
            self._map = self._mapped("r+b", max(2 * len(self._map), self._used + len(entry)))
            self.doubles = memoryview(self._map).cast("d")
        self._map[self._used : self._used + len(entry)] = entry
        self._used += len(entry)
        self._map[0:4] = _USED.pack(self._used)  # last: a reader sees the entry only once it is whole
        return (self._used - 16) // 8


class RequestSeries:
    """The request duration histogram (route, method, status) and the validations counter (schema, verdict) of
    one process, in files that `MultiProcessCollector` reads as it reads prometheus_client's own. Keys are made
    as prometheus_client makes them (`mmap_key`), so the two are one series to the collector."""

    def __init__(self, directory: str, duration: MetricName, bounds: Sequence[float], validations: MetricName) -> None:
        # Named by the process and a random part: a worker that reuses a dead one's process id must not meet its
        # file, whose counts still belong in the sums. The collector reads the type from the first word only.
        owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._histograms = SharedValues(os.path.join(directory, f"histogram_requests-{owner}.db"))
        self._counters = SharedValues(os.path.join(directory, f"counter_requests-{owner}.db"))
        self._duration = duration
        self._bounds = [*bounds, float("inf")]
        self._validations = validations
        # Values are changed from the event loop and from the pool's threads (large batches).
        self._lock = threading.Lock()
        self._answered: dict[tuple[str, str, int], tuple[int, list[int]]] = {}
        self._validated: dict[tuple[str, bool], int] = {}

    def answered(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        slots = self._answered.get(key)
        if slots is None:
            slots = self._answered[key] = self._duration_slots(route, method, str(status))
        total, buckets = slots
        bucket = buckets[bisect.bisect_left(self._bounds, seconds)]  # the first bound at or above it: `le`
        with self._lock:
            doubles = self._histograms.doubles
            doubles[total] += seconds
            doubles[bucket] += 1.0

    def validated(self, schema: str, valid: bool, count: int = 1) -> None:
        index = self._validated.get((schema, valid))
        if index is None:
            name, help_text, labels = self._validations
            key = mmap_key(name, name + "_total", list(labels), [schema, "valid" if valid else "invalid"], help_text)
            with self._lock:
                index = self._validated[schema, valid] = self._counters.slot(key)
        with self._lock:
            self._counters.doubles[index] += count

    def _duration_slots(self, *label_values: str) -> tuple[int, list[int]]:
        name, help_text, labels = self._duration
        bucket_labels = [*labels, "le"]
        with self._lock:
            total = self._histograms.slot(mmap_key(name, name + "_sum", list(labels), list(label_values), help_text))
            buckets = [
                self._histograms.slot(mmap_key(name, name + "_bucket", bucket_labels, [*label_values, le], help_text))
                for le in map(floatToGoString, self._bounds)
            ]
        return total, buckets
