"""A TCP proxy to PostgreSQL that holds the first N connections until all N have arrived.

Processes that start together reach their first database connection a few hundred
milliseconds apart (imports, a loaded machine); behind this proxy their first statements
start at the same moment, so that a race between them (two servers migrating one empty
database) really happens. Later connections pass at once.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from urllib.parse import urlsplit, urlunsplit

BARRIER_TIMEOUT = 60.0


def _pipe(source: socket.socket, target: socket.socket) -> None:
    """Copy bytes from source to target until either side closes."""
    with suppress(OSError):
        while data := source.recv(65536):
            target.sendall(data)
    for end in (source, target):
        with suppress(OSError):
            end.shutdown(socket.SHUT_RDWR)


class BarrierProxy:
    """Listens on 127.0.0.1 and forwards each connection to `upstream` (host, port)."""

    def __init__(self, upstream: tuple[str, int], parties: int) -> None:
        self.upstream = upstream
        self.barrier = threading.Barrier(parties, timeout=BARRIER_TIMEOUT)
        self._parties_left = parties
        self._count = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = [self._listener]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with suppress(OSError):
            while True:
                client, _ = self._listener.accept()
                self._sockets.append(client)
                threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with self._count:
            held = self._parties_left > 0
            self._parties_left -= held
        if held:
            self.barrier.wait()
        upstream = socket.create_connection(self.upstream)
        self._sockets.append(upstream)
        threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()
        _pipe(client, upstream)

    @property
    def released(self) -> bool:
        """True once the first `parties` connections arrived and went on together."""
        return self._parties_left == 0 and not self.barrier.broken

    def close(self) -> None:
        """Stop listening and cut every connection."""
        for sock in self._sockets:
            with suppress(OSError):
                sock.close()


@contextmanager
def barrier_proxy(database_url: str, parties: int) -> Iterator[tuple[str, BarrierProxy]]:
    """The database URL through a BarrierProxy of `parties`, and the proxy, for the
    duration of the block."""
    parts = urlsplit(database_url)
    proxy = BarrierProxy((parts.hostname or "127.0.0.1", parts.port or 5432), parties)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@127.0.0.1:{proxy.port}" if credentials else f"127.0.0.1:{proxy.port}"
    try:
        yield urlunsplit(parts._replace(netloc=netloc)), proxy
    finally:
        proxy.close()
