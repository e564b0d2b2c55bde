"""uvicorn's HTTP protocol, extended to count connections and keep their transports.

Shared by the emulators: counting lets tests see connection reuse, and keeping each transport by
peer address lets an injected fault drop a connection without answering.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Protocol

from .counters import Counters


class ConnectionOwner(Protocol):
    """What :func:`counting_protocol_class` needs of an emulator."""

    counters: Counters
    _transports: dict[tuple[str, int], asyncio.BaseTransport]


def counting_protocol_class(owner: ConnectionOwner) -> type[asyncio.Protocol]:
    """:return: uvicorn's HTTP protocol, extended to count connections and keep transports
    (so an injected fault can drop a connection without answering)."""
    try:
        import httptools  # noqa: F401 - only to know the fast parser is there
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as Base
    except ImportError:  # pragma: no cover - depends on the environment
        from uvicorn.protocols.http.h11_impl import H11Protocol as Base  # type: ignore[assignment]

    class CountingProtocol(Base):
        _emu_peer: tuple[str, int] | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            owner.counters.connection_opened()
            sock = transport.get_extra_info("socket")
            if sock is not None:
                # headers and body are separate writes: without this, Nagle + delayed ACK add 40 ms
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            peer = transport.get_extra_info("peername")
            if peer:
                self._emu_peer = (str(peer[0]), int(peer[1]))
                owner._transports[self._emu_peer] = transport

        def connection_lost(self, exc: Exception | None) -> None:
            if self._emu_peer is not None:
                owner._transports.pop(self._emu_peer, None)
            super().connection_lost(exc)

    return CountingProtocol
