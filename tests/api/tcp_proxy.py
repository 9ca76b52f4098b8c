"""A TCP proxy the test controls, between the app and PostgreSQL: pass traffic, cut every
connection (and refuse new ones), freeze (hold connections, relay nothing), or forget the open
connections silently (a database host that restarted while the app was idle: the app's side
stays open and learns only when it next sends, by a reset)."""

from __future__ import annotations

import asyncio
import contextlib


class TcpProxy:
    """``127.0.0.1:<free port>`` → ``upstream``; ``cut()``, ``freeze()``, ``forget()``,
    ``restore()``."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.mode = "pass"
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._upstreams: dict[asyncio.StreamWriter, asyncio.StreamWriter] = {}  # client: its
        self._forgotten: set[asyncio.StreamWriter] = set()  # clients whose upstream is gone
        self._flowing = asyncio.Event()
        self._flowing.set()

    async def start(self) -> TcpProxy:
        """Listen on a free port of 127.0.0.1."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Close everything."""
        self._flowing.set()
        self._kill_all()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    def cut(self) -> None:
        """Reset every open connection and refuse new ones (a killed server)."""
        self.mode = "cut"
        self._flowing.set()
        self._kill_all()

    def freeze(self) -> None:
        """Keep connections open but relay nothing, new ones included (a frozen server)."""
        self.mode = "freeze"
        self._flowing.clear()

    def forget(self) -> None:
        """Close every open connection's database side without telling the app: its side stays
        open until it sends, which is then answered by a reset. New connections pass."""
        for client, upstream in list(self._upstreams.items()):
            self._forgotten.add(client)
            with contextlib.suppress(Exception):
                upstream.transport.abort()

    def restore(self) -> None:
        """Back to passing traffic."""
        self.mode = "pass"
        self._flowing.set()

    def _kill_all(self) -> None:
        for writer in list(self._writers):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode == "cut":
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        self._upstreams[writer] = up_writer
        await asyncio.gather(self._pipe(reader, up_writer, client=writer),
                             self._pipe(up_reader, writer, client=writer),
                             return_exceptions=True)
        self._upstreams.pop(writer, None)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *,
                    client: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                if client in self._forgotten:
                    with contextlib.suppress(Exception):
                        client.transport.abort()  # the restarted host's reset
                    break
                await self._flowing.wait()
                if self.mode == "cut":
                    break
                writer.write(data)
                await writer.drain()
        finally:
            if writer not in self._forgotten:  # a forgotten client hears nothing until it sends
                with contextlib.suppress(Exception):
                    writer.transport.abort()
            self._writers.discard(writer)
