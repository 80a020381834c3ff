"""The embedded MQTT broker (amqtt) for tests, demos and single-box installs.

``EmbeddedBroker(host, port).start()`` runs an amqtt broker in a background thread
with its own asyncio loop; ``privcard broker --host H --port P`` runs one in the
foreground until SIGINT/SIGTERM. Port 0 picks a free port (read it back from
``.port`` or the "listening on" line).

    >>> b = EmbeddedBroker("127.0.0.1", 0).start()
    >>> b.url.startswith("mqtt://127.0.0.1:")
    True
    >>> b.stop()

What amqtt 0.12 does and does not do (checked by tests/integration/test_broker_*):

- MQTT 3.1.1 only. **No MQTT v5**, hence no shared subscriptions (``$share/...``)
  and no session expiry interval on CONNECT: use Mosquitto for those.
- QoS 1, retained messages and last wills work.
- Persistent sessions (clean_session=False) keep their subscriptions and queue
  QoS 1 messages while the client is away — but amqtt's stock
  ``AnonymousAuthPlugin`` marks every session anonymous and amqtt then drops
  anonymous sessions on disconnect. So this module installs :class:`OpenAuthPlugin`
  (accept everyone, mark no one anonymous) instead.
- Messages queued for an offline persistent session are delivered with the
  *retain* flag set (amqtt replays them through its retained-message path): never
  use ``msg.retain`` to tell "retained" from "queued" on this broker.
- An unacknowledged QoS 1 message (manual ack, client crashed before ``ack()``) is
  **not** redelivered when the persistent session reconnects; Mosquitto does
  redeliver it. Correctness does not depend on it: gates resend from their outbox
  until a result arrives, and kiosks re-ask.
- Nothing survives a broker restart (no persistence): fine, the broker is a pipe,
  not a store (docs/architecture.md).
- It is much slower than Mosquitto (pure Python); benchmarks use Mosquitto.
- amqtt does not set TCP_NODELAY on accepted sockets; we set it ourselves in a
  patched connection hook (see ``_nodelay_stream_connected``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import socket
import sys
import threading
from dataclasses import dataclass

log = logging.getLogger(__name__)


class EmbeddedBrokerError(RuntimeError):
    """The embedded broker could not start or stop."""


def _make_auth_plugin():
    """Build the accept-all auth plugin class lazily (amqtt imported only when used)."""
    from amqtt.plugins.base import BaseAuthPlugin

    class _OpenAuthPlugin(BaseAuthPlugin):
        """Accept every client without marking it anonymous (keeps persistent sessions)."""

        @dataclass
        class Config:
            """No options."""

        async def authenticate(self, *, session) -> bool:
            return True

    return _OpenAuthPlugin


def __getattr__(name):
    # Lazily expose OpenAuthPlugin so "broker.embedded.OpenAuthPlugin" is importable by
    # amqtt's plugin loader without importing amqtt at module import time.
    if name == "OpenAuthPlugin":
        cls = _make_auth_plugin()
        cls.__name__ = cls.__qualname__ = "OpenAuthPlugin"
        cls.__module__ = __name__
        globals()["OpenAuthPlugin"] = cls
        return cls
    raise AttributeError(name)


def broker_config(host: str, port: int) -> dict:
    """The amqtt configuration we run: one TCP listener, open auth, no $SYS, no packet log."""
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}", "max_connections": 0}},
        "timeout_disconnect_delay": 0,
        "plugins": {f"{__name__}.OpenAuthPlugin": {}},
    }


def _set_nodelay(writer) -> None:
    """TCP_NODELAY on an accepted connection (docs/architecture.md: ~100x for QoS 1 on loopback)."""
    sock = writer.get_extra_info("socket") if hasattr(writer, "get_extra_info") else None
    if sock is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass


class EmbeddedBroker:
    """An amqtt broker running in a daemon thread with its own event loop."""

    def __init__(self, host: str = "127.0.0.1", port: int = 1883):
        self.host = host
        self.port = port
        self._requested_port = port
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._broker = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stopped: asyncio.Event | None = None

    @property
    def url(self) -> str:
        """``mqtt://host:port`` of the running broker."""
        return f"mqtt://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the broker thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = 15.0) -> EmbeddedBroker:
        """Start listening; returns once the port accepts connections."""
        if self.running:
            return self
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(target=self._run, name=f"amqtt-{self.host}:{self._requested_port}", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise EmbeddedBrokerError(f"embedded broker did not start within {timeout}s")
        if self._error is not None:
            self._thread.join(2)
            raise EmbeddedBrokerError(
                f"embedded broker failed to start on {self.host}:{self._requested_port}: {self._error}"
            ) from self._error
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Shut down (connected clients see their connection close)."""
        if not self.running or self._loop is None or self._stopped is None:
            return
        self._loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(timeout)
        # Keep the port for a restart on the same address.
        self._requested_port = self.port

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ thread body

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to start() if it happens before ready
            self._error = exc
            self._ready.set()
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            except Exception:
                pass
            loop.close()

    async def _serve(self) -> None:
        from amqtt.broker import Broker

        self._stopped = asyncio.Event()
        broker = Broker(broker_config(self.host, self._requested_port), loop=asyncio.get_running_loop())
        original = broker.stream_connected
        writers: set = set()

        async def _nodelay_stream_connected(reader, writer, listener_name):
            _set_nodelay(writer)
            writers.add(writer)
            try:
                await original(reader, writer, listener_name)
            except RuntimeError as exc:
                # amqtt 0.12 iterates its session dict while another client's task changes it
                # (seen when many clients drop at once, e.g. at shutdown); one connection ends,
                # the broker goes on
                log.debug("amqtt connection handler failed: %s", exc)
            finally:
                writers.discard(writer)

        # _create_server_instance binds stream_connected by attribute lookup at start().
        broker.stream_connected = _nodelay_stream_connected
        await broker.start()
        self._broker = broker
        server = broker._servers["default"].instance
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            await self._stopped.wait()
        finally:
            # amqtt's shutdown() can hang on sessions whose sockets are still open, and
            # does not close them: stop accepting, drop every client connection (like a
            # crashed broker would), then let amqtt tidy up with a time limit.
            server.close()
            for writer in list(writers):
                writer.transport.abort()
            try:
                await asyncio.wait_for(broker.shutdown(), 5)
            except (TimeoutError, Exception) as exc:  # a half-dead broker must not block the caller
                log.debug("embedded broker shutdown: %r", exc)
            current = asyncio.current_task()
            tasks = [t for t in asyncio.all_tasks() if t is not current]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


def main(argv: list[str] | None = None) -> int:
    """``privcard broker --host H --port P``: run until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="privcard broker", description="Run the embedded MQTT broker (amqtt, MQTT 3.1.1)."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=1883, help="port (0 = pick a free one; default 1883)")
    parser.add_argument("--verbose", "-v", action="store_true", help="log amqtt's own messages")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    if not args.verbose:
        logging.getLogger("amqtt").setLevel(logging.ERROR)
    broker = EmbeddedBroker(args.host, args.port)
    try:
        broker.start()
    except EmbeddedBrokerError as exc:
        print(f"privcard broker: {exc}", file=sys.stderr)
        return 1
    print(f"listening on {broker.host}:{broker.port}", flush=True)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    try:
        while not done.wait(0.5):
            if not broker.running:
                print("privcard broker: the broker stopped unexpectedly", file=sys.stderr)
                return 1
    finally:
        broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
