"""A TCP proxy on 127.0.0.1 that can make its target unreachable for a while.

A small test utility (no maintained fault-injecting proxy is installed here): asyncio streams
on a loop in its own thread. During an outage every open connection is reset and every new
one is accepted and reset at once, as a database behind a failed network path would look.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager, suppress

HOST = "127.0.0.1"
CHUNK = 65536


class OutageProxy:
    """Forwards 127.0.0.1:`port` to the target; `outage()` drops everything for its duration."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.down = False
        self.dropped = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._live: set[asyncio.StreamWriter] = set()

    def _call(self, coroutine: object) -> object:
        future: Future[object] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)  # type: ignore[arg-type]
        return future.result(timeout=30)

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._serve, HOST, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    @staticmethod
    def _reset(writer: asyncio.StreamWriter) -> None:
        # SO_LINGER 0: close with a reset, as a broken path does, not a polite FIN.
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with suppress(OSError):
                sock.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )
        writer.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with suppress(OSError, asyncio.IncompleteReadError):
            while chunk := await reader.read(CHUNK):
                writer.write(chunk)
                await writer.drain()
        self._reset(writer)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.down:
            self.dropped += 1
            self._reset(writer)
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            self._reset(writer)
            return
        self._live |= {writer, upstream_writer}
        try:
            await asyncio.gather(
                self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer)
            )
        finally:
            self._live -= {writer, upstream_writer}

    async def _drop_all(self) -> None:
        self.down = True
        self.dropped += len(self._live)
        for writer in list(self._live):
            self._reset(writer)

    async def _restore(self) -> None:
        self.down = False

    async def _stop(self) -> None:
        await self._drop_all()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    @contextmanager
    def running(self) -> Iterator[OutageProxy]:
        """Serve for the duration, then close every connection and the loop."""
        self._thread.start()
        try:
            self._call(self._start())
            yield self
        finally:
            with suppress(Exception):
                self._call(self._stop())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    @contextmanager
    def outage(self) -> Iterator[None]:
        """The target is unreachable through the proxy until the block ends."""
        self._call(self._drop_all())
        try:
            yield
        finally:
            self._call(self._restore())
