"""What happens to a request before the app's routes see it, made to keep the service's promises:

- :class:`GuardedH11`: uvicorn's h11 protocol, with its own 400 (a malformed request, or a request
  line + headers over 16 KB) as JSON ``{"error"}`` like every other error, and a connection that
  has not sent a whole request head within ``HEADER_SECONDS`` closed (a slow client sending its
  headers a byte at a time would otherwise hold the connection forever);
- :class:`ShortAccessPaths`: access-log lines with a path cut to ``MAX_LOGGED_PATH`` characters;
- :class:`HeadLimit` (ASGI middleware): 431 for a request line and headers over ``MAX_HEAD_BYTES``;
- :class:`OriginPolicy` (ASGI middleware): requests and WebSockets from web pages of other origins
  refused (403), CORS for the allowed ones (:func:`origin_allowed`).
"""
from __future__ import annotations

import json
import logging

import h11
from starlette.responses import JSONResponse
from uvicorn.protocols.http.h11_impl import H11Protocol

from .. import validate as V

HEADER_SECONDS = 15.0
MAX_LOGGED_PATH = 200
MAX_HEAD_BYTES = 16 * 1024     # request line (path and query) and headers


def json_error(status: int, message: str, headers=None) -> JSONResponse:
    """Every error of the service: ``{"error": message}`` with a 4xx status (5xx: a bug of ours)."""
    return JSONResponse({"error": message}, status_code=status, headers=headers)


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


# ---- origins ---------------------------------------------------------------------------------
def _header(scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", ()):
        if k == name:
            return v.decode("latin-1")
    return None


def origin_allowed(origin: str | None, host: str | None, allow=()) -> bool:
    """Whether a request with these ``Origin`` and ``Host`` headers is served: no Origin (not a
    browser), the same host[:port] as Host (the page is ours, also behind a TLS proxy that passes
    Host on), or an origin in ``allow`` (``"*"``: any)."""
    if origin is None or "*" in allow:
        return True
    try:
        o = V.origin(origin)
    except V.Invalid:  # "null" (sandboxed frames, file:) and anything malformed
        return False
    if o in allow:
        return True
    if not host:
        return False
    scheme, netloc = o.split("://", 1)
    h = host.strip().lower()
    default = {"http": ":80", "https": ":443"}[scheme]
    if h.endswith(default):
        h = h[:-len(default)]
    return netloc == h


class OriginPolicy:
    """ASGI middleware: refuses (403) HTTP requests and WebSocket handshakes from web pages of other
    origins, answers CORS preflights and adds CORS headers for the allowed ones."""

    def __init__(self, app, allow=()):
        self.app = app
        self.allow = tuple(allow)

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        origin = _header(scope, b"origin")
        if origin is None:
            return await self.app(scope, receive, send)
        shown = V.printable(origin)
        if not origin_allowed(origin, _header(scope, b"host"), self.allow):
            message = (f"origin {shown!r} is not allowed: pages of this server only, or those "
                       "given with --allow-origin")
            if scope["type"] == "websocket":
                return await self._refuse_socket(scope, receive, send, message)
            return await json_error(403, message)(scope, receive, send)
        if scope["type"] == "websocket":
            return await self.app(scope, receive, send)
        cors = [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin")]
        if scope["method"] == "OPTIONS" and _header(scope, b"access-control-request-method") is not None:
            headers = cors + [(b"access-control-allow-methods", b"GET, HEAD, POST"),
                              (b"access-control-allow-headers", b"content-type"),
                              (b"access-control-max-age", b"600"), (b"content-length", b"0")]
            await send({"type": "http.response.start", "status": 204, "headers": headers})
            return await send({"type": "http.response.body", "body": b""})

        async def send_with_cors(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": list(message.get("headers", [])) + cors}
            await send(message)
        await self.app(scope, receive, send_with_cors)

    @staticmethod
    async def _refuse_socket(scope, receive, send, message, status=403):
        msg = await receive()  # websocket.connect
        if msg["type"] != "websocket.connect":
            return
        if "websocket.http.response" in scope.get("extensions", {}):
            body = json.dumps({"error": message}).encode()
            await send({"type": "websocket.http.response.start", "status": status,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "websocket.http.response.body", "body": body})
        else:
            await send({"type": "websocket.close", "code": 1008})


class HeadLimit:
    """ASGI middleware: a request whose path, query and headers exceed ``MAX_HEAD_BYTES`` gets 431
    (uvicorn's h11 refuses a longer head only when it arrives in pieces, so the bound is set here)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket"):
            size = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"") + \
                sum(len(k) + len(v) + 4 for k, v in scope.get("headers", ()))
            if size > MAX_HEAD_BYTES:
                message = f"request line and headers of {size} bytes (at most {MAX_HEAD_BYTES})"
                if scope["type"] == "websocket":
                    return await OriginPolicy._refuse_socket(scope, receive, send, message, 431)
                return await json_error(431, message)(scope, receive, send)
        await self.app(scope, receive, send)
