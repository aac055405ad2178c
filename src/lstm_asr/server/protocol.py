"""What uvicorn does before the app sees a request, made to keep the service's promises:

- :class:`GuardedH11`: uvicorn's h11 protocol, with its own 400 (a malformed request, or a request
  line + headers over 16 KB) as JSON ``{"error"}`` like every other error, and a connection that
  has not sent a whole request head within ``HEADER_SECONDS`` closed (a slow client sending its
  headers a byte at a time would otherwise hold the connection forever);
- :class:`ShortAccessPaths`: access-log lines with a path cut to ``MAX_LOGGED_PATH`` characters.
"""
from __future__ import annotations

import json
import logging

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_SECONDS = 15.0
MAX_LOGGED_PATH = 200


class GuardedH11(H11Protocol):
    header_seconds = HEADER_SECONDS
    _head_timer = None

    def connection_made(self, transport):
        super().connection_made(transport)
        self._arm_head_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_head_timer()

    def connection_lost(self, exc) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().connection_lost(exc)

    def _arm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        self._head_timer = self.loop.call_later(self.header_seconds, self._head_timeout, self.cycle)

    def _head_timeout(self, cycle) -> None:
        """No new request head since the timer was armed (the cycle is the same): close. A
        connection upgraded to a WebSocket belongs to another protocol by now: left alone."""
        self._head_timer = None
        transport = self.transport
        if self.cycle is cycle and not transport.is_closing() and transport.get_protocol() is self:
            self.logger.info("closing a connection that sent no request head in %g s", self.header_seconds)
            transport.close()

    def send_400_response(self, msg: str) -> None:
        body = json.dumps({"error": f"malformed HTTP request (or its line and headers exceed "
                           f"{self.conn._max_incomplete_event_size // 1024} KB)"}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                   (b"connection", b"close")]
        try:
            self.transport.write(self.conn.send(h11.Response(status_code=400, headers=headers, reason=b"Bad Request")))
            self.transport.write(self.conn.send(h11.Data(data=body)))
            self.transport.write(self.conn.send(h11.EndOfMessage()))
        except h11.LocalProtocolError:  # a response had begun already: nothing more can be said
            pass
        self.transport.close()


class ShortAccessPaths(logging.Filter):
    """Cuts the path of uvicorn's access-log records (client, method, path, version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str) and len(args[2]) > MAX_LOGGED_PATH:
            path = args[2]
            record.args = (args[0], args[1], f"{path[:MAX_LOGGED_PATH]}...[{len(path)} characters]", *args[3:])
        return True
