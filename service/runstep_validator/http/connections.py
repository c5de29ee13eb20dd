"""The write timeout granian does not set, and a bound on the answers that clients have not read.

granian (2.8.7) closes a connection whose request head does not arrive in time, from the connection's first moment
when it serves HTTP/1.1 only (hyper's `header_read_timeout`; see server.py), but it never times out a client that
stops reading its answer: hyper then holds the answer's bytes for as long as the connection lasts. The RSGI interface
offers no way to see or close a connection, so each worker watches its own sockets: while an answer larger than
the kernel's send buffer is pending, twice a second a thread reads the kernel's `TCP_INFO` of every connection to
the server's port in this process (the Linux ABI, stable and only ever extended) and shuts down a connection with
answer bytes waiting to be sent, none of which its client has taken for `write_timeout_seconds`; with no such
answer pending it sleeps. A shutdown (never a close: the descriptor stays granian's) ends the connection
for hyper, which then frees what it held; with SO_LINGER at zero the kernel drops the unsent bytes at once too.

`PendingAnswers` counts the bytes of large answers handed to granian whose clients have not taken them yet, per
worker; past `max_pending_answer_bytes` a new large answer is refused (503) rather than held.
"""

from __future__ import annotations

import logging
import os
import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import Final

log = logging.getLogger("runstep_validator.http")

# Offsets in Linux's struct tcp_info (include/uapi/linux/tcp.h).
_UNACKED: Final = 24  # u32: segments sent and not acknowledged
_BYTES_ACKED: Final = 120  # u64: bytes the client has acknowledged
_NOTSENT: Final = 144  # u32: bytes queued and not sent yet (Linux 4.6)
_TCP_INFO_BYTES: Final = _NOTSENT + 4
# Answers from this size on are counted as pending until their client takes them, and only while one is pending
# does the watch look at the sockets. A smaller answer fits in the kernel's send buffer (Linux starts each at 16 KiB,
# net.ipv4.tcp_wmem): granian holds none of it, and a connection whose client does not read it is closed by the
# header timeout, which runs from the moment granian waits for the next request.
TRACKED_BYTES: Final = 16 * 1024

Peer = tuple[str, int]


def peer_of(address: str) -> Peer:
    """A client as granian's scope names it (`127.0.0.1:5000`, `[::1]:5000`), as its socket's peer is compared."""
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port) if port.isdigit() else -1


class PendingAnswers:
    """The large answers of this worker that their clients have not taken yet, by client."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._answers: dict[Peer, tuple[int, float]] = {}  # client -> (bytes, when handed over)
        self._some = threading.Event()  # set while any answer is pending (or to wake the watch to stop)
        self.held = 0

    def admit(self, peer: Peer, size: int) -> bool:
        """Counts an answer about to be sent; False (and nothing counted) when it would pass the limit. One answer
        alone is always admitted, however large, so that every answer can be sent."""
        if size < TRACKED_BYTES:
            return True
        with self._lock:
            if self.held and self.held + size > self.limit:
                return False
            previous = self._answers.get(peer)
            self.held += size - (previous[0] if previous else 0)
            self._answers[peer] = (size, time.monotonic())
            self._some.set()
            return True

    def release(self, peer: Peer, handed_before: float | None = None) -> None:
        """The client took its answer, or is gone (only an answer handed over before `handed_before`, if given)."""
        with self._lock:
            answer = self._answers.get(peer)
            if answer is not None and (handed_before is None or answer[1] < handed_before):
                del self._answers[peer]
                self.held -= answer[0]
                if not self._answers:
                    self._some.clear()

    def wait(self) -> None:
        """Returns once an answer is pending (at once if one is), or `wake` is called."""
        self._some.wait()

    def wake(self) -> None:
        self._some.set()

    def peers(self) -> list[Peer]:
        with self._lock:
            return list(self._answers)


class ConnectionWatch:
    """The thread that applies the write timeout to this worker's connections (see the module)."""

    def __init__(self, port: int, write_seconds: float, pending: PendingAnswers) -> None:
        self.port = port
        self.write_seconds = write_seconds
        self.pending = pending
        self.interval = min(0.5, write_seconds / 4)
        self._progress: dict[int, tuple[int, float]] = {}  # socket inode -> (bytes acknowledged, since when)
        self._drained: set[Peer] = set()  # clients whose connection had nothing left to send at the last look
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self.closed = 0  # connections shut down, for tests and logs

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="connection-watch", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self.pending.wake()

    def _run(self) -> None:
        while True:
            self.pending.wait()  # idle while no answer is pending: nothing to watch
            if self._stopped.wait(self.interval):
                return
            try:
                self.sweep()
            except Exception:  # a failed sweep must not end the watch; the next one tries again
                log.exception("the connection watch failed")

    def sweep(self) -> None:
        """One look at every connection: the timeouts applied, the answers their clients took released."""
        started = time.monotonic()
        seen: dict[int, tuple[int, float]] = {}
        peers: set[Peer] = set()
        drained: set[Peer] = set()
        for connection, inode in self._connections():
            with connection:
                try:
                    info = connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_BYTES)
                    address = connection.getpeername()
                except OSError:
                    continue
                if len(info) < _TCP_INFO_BYTES:  # pragma: no cover - a kernel older than 4.6
                    continue
                peer: Peer = (address[0], address[1])
                peers.add(peer)
                waiting = struct.unpack_from("I", info, _NOTSENT)[0] or struct.unpack_from("I", info, _UNACKED)[0]
                if not waiting:
                    # Taken, once two looks in a row find nothing left to send: on a busy machine hyper may not
                    # have begun writing an answer by the first.
                    drained.add(peer)
                    if peer in self._drained:
                        self.pending.release(peer, handed_before=started - 2 * self.interval)
                if waiting and self._stalled(inode, info, started, seen):
                    self._shut(connection, peer)
        self._progress, self._drained = seen, drained
        for peer in self.pending.peers():
            if peer not in peers:  # the connection is gone
                self.pending.release(peer, handed_before=started)

    def _stalled(self, inode: int, info: bytes, now: float, seen: dict[int, tuple[int, float]]) -> bool:
        acked = struct.unpack_from("Q", info, _BYTES_ACKED)[0]
        before = self._progress.get(inode)
        since = before[1] if before is not None and before[0] == acked else now
        seen[inode] = (acked, since)
        return now - since >= self.write_seconds

    def _shut(self, connection: socket.socket, peer: Peer) -> None:
        try:
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            return
        self.closed += 1
        self.pending.release(peer)

    def _connections(self) -> Iterator[tuple[socket.socket, int]]:
        """A duplicate of each accepted TCP connection to our port in this process, with its socket's inode."""
        try:
            descriptors = os.listdir("/proc/self/fd")
        except OSError:  # pragma: no cover - not Linux
            return
        for name in descriptors:
            try:
                target = os.readlink(f"/proc/self/fd/{name}")
                if not target.startswith("socket:"):
                    continue
                duplicate = os.dup(int(name))
            except (OSError, ValueError):
                continue
            try:
                connection = socket.socket(fileno=duplicate)
            except OSError:
                os.close(duplicate)
                continue
            try:
                ours = (
                    connection.type == socket.SOCK_STREAM
                    and connection.family in (socket.AF_INET, socket.AF_INET6)
                    and connection.getsockname()[1] == self.port
                    and not connection.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
                )
            except OSError:
                ours = False
            if ours:
                yield connection, os.fstat(connection.fileno()).st_ino
            else:
                connection.close()
