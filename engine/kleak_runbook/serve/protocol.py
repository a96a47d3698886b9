"""uvicorn's HTTP/1.1 protocol with a deadline for the request head (slowloris).

uvicorn times out idle keep-alive connections but not a client that sends its headers a byte
at a time; the body guard in ``app.py`` only sees a request once its head is complete. This
subclass gives each request head ``timeout`` seconds, then answers 408 and closes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

BODY = b"request head took too long"
REFUSAL = b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain\r\nconnection: close\r\n"
REFUSAL += b"content-length: %d\r\n\r\n%s" % (len(BODY), BODY)


def with_head_deadline(timeout: float, refused: Callable[[str], None]) -> type[H11Protocol]:
    """The protocol class for ``uvicorn.Config(http=...)``; ``refused(client address)`` audits a 408."""

    class HeadDeadline(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None
        _partial = False

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            waiting = self.conn.their_state is h11.IDLE
            self._partial = waiting and bool(data)
            if not waiting and self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm()  # the next request on this connection gets its own deadline

        def connection_lost(self, exc: Exception | None) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            super().connection_lost(exc)

        def _arm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            self._deadline = self.loop.call_later(timeout, self._late)

        def _late(self) -> None:
            self._deadline = None
            if self.conn.their_state is not h11.IDLE or self.transport.is_closing():
                return
            if self._partial:  # an idle keep-alive connection is just closed; a half-sent head is refused
                refused(self.client[0] if self.client else "-")
                self.transport.write(REFUSAL)
            self.transport.close()

    return HeadDeadline
