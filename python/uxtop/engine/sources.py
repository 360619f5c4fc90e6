"""Byte sources the engine polls: growing files, stdin, in-memory data, the live synthesiser.

A source is polled from the engine thread with ``read(max_bytes)``; it returns what is available
now (possibly ``b""``) and never blocks for long, so one idle source cannot stall the others.
``done`` turns True once the source will never produce more (stdin closed, a non-followed file
read to its end, a finite generator exhausted). Sources fed by a thread (stdin, generators) also
have ``read_parts(max_bytes)``: the queued chunks as they came, which the engine feeds to the
core in one call without joining them.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import BinaryIO, Protocol


class Source(Protocol):
    name: str

    def read(self, max_bytes: int) -> bytes: ...

    @property
    def done(self) -> bool: ...

    def close(self) -> None: ...


#: a file or bytes source reads this much at a time, and hands a read over as its pieces
#: (the core takes them as one feed, ``Ingestor.feed_parts``). Under glibc's 32 MB ceiling for
#: heap (not mmap) allocations, so a piece's buffer reuses freed heap pages: a 64 MB read as one
#: bytes object was fresh mmapped pages every time, and the ingest thread's events per
#: CPU-second fell ~15 % when reads went from 16 to 64 MB
READ_PIECE = 16 << 20


def read_pieces(read: Callable[[int], bytes], max_bytes: int) -> list[bytes]:
    """Up to ``max_bytes`` from ``read`` as pieces of at most READ_PIECE, stopping at the
    first short read (the source has nothing more for now)."""
    parts: list[bytes] = []
    size = 0
    while size < max_bytes:
        want = min(READ_PIECE, max_bytes - size)
        data = read(want)
        if not data:
            break
        parts.append(data)
        size += len(data)
        if len(data) < want:
            break
    return parts


class FileTail:
    """Reads a file from the start (or its end) and follows it as it grows, like ``tail -F``.

    Truncation (size below our position) and rotation (a new inode at the path) reopen the file
    from the start, so log rotation loses nothing written after the rotation.
    """

    def __init__(self, path: str, *, follow: bool = True, from_end: bool = False) -> None:
        self.path = path
        self.name = path
        self.follow = follow
        self._fh: BinaryIO | None = None
        self._ino: int | None = None
        self._done = False
        self._last_stat = 0.0
        self._open(seek_end=from_end)

    def _open(self, *, seek_end: bool = False) -> None:
        try:
            fh = open(self.path, "rb")  # noqa: SIM115 - held open while following
        except FileNotFoundError:
            if not self.follow:
                raise
            self._fh = None  # appears later (tail -F)
            return
        if seek_end:
            fh.seek(0, os.SEEK_END)
        self._fh = fh
        self._ino = os.fstat(fh.fileno()).st_ino

    def read(self, max_bytes: int) -> bytes:
        if self._done:
            return b""
        if self._fh is None:
            self._maybe_reopen(force=True)
            if self._fh is None:
                return b""
        data = self._fh.read(max_bytes)
        if data:
            return data
        if not self.follow:
            self._done = True
            return b""
        self._maybe_reopen()
        return b""

    def read_parts(self, max_bytes: int) -> list[bytes]:
        return read_pieces(self.read, max_bytes)

    def _maybe_reopen(self, force: bool = False) -> None:
        # stat at most 4x a second: an idle followed file costs nothing
        now = time.monotonic()
        if not force and now - self._last_stat < 0.25:
            return
        self._last_stat = now
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return
        if self._fh is None:
            self._open()
            return
        if st.st_ino != self._ino or st.st_size < self._fh.tell():
            self._fh.close()
            self._open()

    @property
    def done(self) -> bool:
        return self._done

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


class StreamSource:
    """A blocking binary stream (stdin, a pipe) read on its own thread into a bounded queue.

    The queue bound gives back-pressure: if the engine falls behind, the producer blocks on its
    pipe instead of uxtop buffering without limit.
    """

    #: chunks the queue holds before the producer blocks
    QUEUE_CHUNKS = 256

    def __init__(
        self, stream: BinaryIO | None = None, name: str = "stdin", chunk: int = 1 << 16
    ) -> None:
        self.name = name
        self._stream = stream if stream is not None else sys.stdin.buffer
        self._chunk = chunk
        self._queue = _QueueStream(maxsize=self.QUEUE_CHUNKS)
        self._never = threading.Event()  # stdin is read until EOF; the bounded put blocks
        self._thread = threading.Thread(target=self._pump, name=f"uxtop-{name}", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        read = getattr(self._stream, "read1", self._stream.read)
        try:
            while True:
                data = read(self._chunk)
                if not data:
                    break
                self._queue.put(data, self._never)
        except (OSError, ValueError):
            pass
        self._queue.put(None, self._never)

    @property
    def max_buffered(self) -> int:
        """The most bytes waiting in the queue when the producer blocks (16 MB by default)."""
        return self.QUEUE_CHUNKS * self._chunk

    def read(self, max_bytes: int) -> bytes:
        return self._queue.read(max_bytes)

    def read_parts(self, max_bytes: int) -> list[bytes]:
        return self._queue.read_parts(max_bytes)

    @property
    def done(self) -> bool:
        return self._queue.done

    def close(self) -> None:
        pass


class BytesSource:
    """Fixed bytes, served in chunks (tests, benchmarks, replays)."""

    def __init__(self, data: bytes, name: str = "memory") -> None:
        self.name = name
        self._data = memoryview(data)
        self._pos = 0

    def read(self, max_bytes: int) -> bytes:
        chunk = bytes(self._data[self._pos : self._pos + max_bytes])
        self._pos += len(chunk)
        return chunk

    def read_parts(self, max_bytes: int) -> list[bytes]:
        return read_pieces(self.read, max_bytes)

    @property
    def done(self) -> bool:
        return self._pos >= len(self._data)

    def close(self) -> None:
        pass


class IterSource:
    """Pulls chunks from an iterator of bytes (e.g. a live generator) on a producer thread.

    The iterator may sleep to pace itself in wall-clock time; a thread keeps that from blocking
    the engine loop. ``b""`` items are allowed (nothing due yet).
    """

    def __init__(
        self, chunks: Iterator[bytes] | Callable[[], Iterator[bytes]], name: str, maxsize: int = 64
    ) -> None:
        self.name = name
        self._factory = chunks if callable(chunks) and not hasattr(chunks, "__next__") else None
        self._it = None if self._factory else chunks
        self._stream = _QueueStream(maxsize)
        self._stop = threading.Event()
        # started by the first read, so a generator runs only once its reader wants data
        self._thread = threading.Thread(target=self._pump, name=f"uxtop-{name}", daemon=True)

    def _pump(self) -> None:
        try:
            it = self._factory() if self._factory else self._it  # type: ignore[misc]
            for chunk in it:  # type: ignore[union-attr]
                if self._stop.is_set():
                    break
                if chunk:
                    self._stream.put(chunk, self._stop)
        finally:
            self._stream.put(None, self._stop)

    def _started(self) -> _QueueStream:
        if self._thread.ident is None and not self._stop.is_set():
            self._thread.start()
        return self._stream

    def read(self, max_bytes: int) -> bytes:
        return self._started().read(max_bytes)

    def read_parts(self, max_bytes: int) -> list[bytes]:
        return self._started().read_parts(max_bytes)

    @property
    def done(self) -> bool:
        return self._stream.done

    def close(self) -> None:
        self._stop.set()


class _QueueStream:
    def __init__(self, maxsize: int) -> None:
        self._q: queue.Queue[bytes | None] = queue.Queue(maxsize=maxsize)
        self._pending = b""
        self._eof = False

    def put(self, item: bytes | None, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self._q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def read_parts(self, max_bytes: int) -> list[bytes]:
        """The queued chunks as they came, until ``max_bytes`` is reached (the last one may
        take it over): the ingestor takes them as one feed, so nothing is joined or copied
        under the GIL (~100 MB/s of memcpy each at 1 M events/s)."""
        parts = [self._pending] if self._pending else []
        size = len(self._pending)
        self._pending = b""
        while size < max_bytes and not self._eof:
            try:
                item = self._q.get_nowait()
            except queue.Empty:
                break
            if item is None:
                self._eof = True
                break
            parts.append(item)
            size += len(item)
        return parts

    def read(self, max_bytes: int) -> bytes:
        parts = self.read_parts(max_bytes)
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        if len(data) > max_bytes:
            data, self._pending = data[:max_bytes], data[max_bytes:]
        return data

    @property
    def done(self) -> bool:
        return self._eof and not self._pending


def open_sources(paths: list[str], *, follow: bool = True, from_end: bool = False) -> list[Source]:
    """``-`` is stdin; anything else a file tail."""
    out: list[Source] = []
    for p in paths:
        if p == "-":
            # a private duplicate of fd 0: the TUI may then point fd 0 at the terminal for keys
            out.append(
                StreamSource(os.fdopen(os.dup(sys.stdin.fileno()), "rb", buffering=0), name="stdin")
            )
        else:
            out.append(FileTail(p, follow=follow, from_end=from_end))
    return out
