"""HTTP + WebSocket service and its web page: ``lstm-asr serve`` (see :mod:`.app` for the API).

Needs the ``serve`` extra: ``pip install 'lstm-asr[serve]'`` (fastapi, uvicorn, python-multipart,
websockets).
"""
from __future__ import annotations

from ..errors import ConfigError


def _require():
    try:
        import fastapi  # noqa: F401
        import python_multipart  # noqa: F401  (uploads)
        import uvicorn  # noqa: F401
        import websockets  # noqa: F401
    except ImportError as e:
        raise ConfigError(f"the server needs the 'serve' extra ({e.name} is missing): "
                          "pip install 'lstm-asr[serve]'") from None


def create_app(recognizer=None, model: str | None = None, limits=None):
    """The FastAPI app (see :func:`.app.create_app`)."""
    _require()
    from .app import create_app as _create
    return _create(recognizer, model, limits)


def serve(host: str = "127.0.0.1", port: int = 8000, model: str | None = None, limits=None,
          log_level: str = "info", on_ready=None) -> None:
    """Load the model, then serve on ``host``:``port`` with uvicorn until interrupted."""
    _require()
    import uvicorn

    app = create_app(model=model, limits=limits)
    from uvicorn.config import WS_PROTOCOLS
    ws = "websockets-sansio" if "websockets-sansio" in WS_PROTOCOLS else "websockets"
    from .protocol import GuardedH11, ShortAccessPaths
    # a connection must send its request head within min(15 s, idle_seconds)
    head_seconds = min(GuardedH11.header_seconds, app.state.limits.idle_seconds)
    http = type("GuardedH11", (GuardedH11,), {"header_seconds": head_seconds})
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, ws=ws, http=http,
                            ws_max_size=4 * 1024 * 1024, timeout_graceful_shutdown=3)
    import logging
    logging.getLogger("uvicorn.access").addFilter(ShortAccessPaths())
    server = uvicorn.Server(config)
    if on_ready is not None:
        on_ready(app)
    server.run()


def limits(**kw):
    """:class:`.settings.ServerLimits` from keyword arguments (ConfigError for bad values)."""
    from .settings import ServerLimits
    return ServerLimits(**kw)


__all__ = ["create_app", "serve", "limits"]
