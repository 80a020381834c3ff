"""TCP proxies the chaos harness puts between each gate and the broker, to cut gates off.

One asyncio loop (in a thread) runs every proxy. ``cut()`` aborts the gate's
connections and refuses new ones (a pulled network cable, as the gate sees it: the
socket dies, reconnects fail); ``restore()`` lets it reconnect.
"""

from __future__ import annotations

import asyncio
import threading

from tests.brokers import free_port


class ProxyLoop:
    """The event loop thread shared by all proxies."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="chaos-proxies", daemon=True)
        self.thread.start()

    def call(self, coro, timeout: float = 10.0):
        """Run a coroutine on the loop from another thread and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class FaultProxy:
    """Forwards 127.0.0.1:``port`` to the broker unless cut."""

    def __init__(self, loop: ProxyLoop, target_host: str, target_port: int, name: str = ""):
        self.loop = loop
        self.target = (target_host, target_port)
        self.name = name
        self.port = free_port()
        self.up = True
        self.cuts = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self._server = None
        self.loop.call(self._start())

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.wait_for(asyncio.open_connection(*self.target), 5)
        except (TimeoutError, OSError):
            writer.transport.abort()
            return
        for w in (writer, up_writer):
            sock = w.get_extra_info("socket")
            if sock is not None:
                import socket

                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._writers.update((writer, up_writer))
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            for w in (writer, up_writer):
                self._writers.discard(w)
                w.transport.abort()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass
        finally:
            writer.transport.abort()

    async def _cut(self) -> None:
        self.up = False
        for w in list(self._writers):
            w.transport.abort()

    def cut(self) -> None:
        """Drop the gate's connection now and refuse new ones."""
        self.cuts += 1
        self.loop.call(self._cut())

    def restore(self) -> None:
        """Accept connections again."""
        self.up = True

    async def _close(self) -> None:
        await self._cut()
        if self._server is not None:
            self._server.close()

    def close(self) -> None:
        try:
            self.loop.call(self._close())
        except Exception:
            pass
