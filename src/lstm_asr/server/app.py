"""The service: FastAPI app over one loaded :class:`~lstm_asr.transcribe.Recognizer`.

    GET  /             the web page (microphone with live text, file upload)
    GET  /health       200 {"status": "ok", "model": NAME, "streams": N, "words": [...] or null (the
                       model's own word list; null: any text), "units": "chars" or "phones"} while loaded
    POST /v1/transcribe?words=W1,W2&beam=N&one_word=1     multipart field ``file`` (any format soundfile reads)
                       -> 200 {"text", "duration", "words": [{"word", "start", "end", "confidence"}],
                       "segments": [{"text", "start", "end"}]}
    WS   /v1/stream?sample_rate=R&words=..&beam=..&one_word=..   binary frames: little-endian int16 mono PCM at
                       R Hz (any even byte count; ``sample_rate`` is required); text frame
                       {"event": "end"} when done. The server sends {"type": "partial", "text"} and
                       {"type": "final", "text", "start", "end", "words"}; after the end event its last
                       finals, then {"type": "end"}, and closes. Bad input gets
                       {"type": "error", "error": ...} and the stream goes on (a malformed frame is
                       dropped), or ends when it cannot go on (a limit; see CLOSE_CODES).

Every error is JSON ``{"error": "..."}`` with a 4xx status (5xx only for a bug of ours). The model
runs in a thread pool, never on the event loop, so one slow request does not stall the others.
Every value a client sends is parsed by :mod:`lstm_asr.validate` (its server section) first.

Origins: a request or WebSocket from a web page (it carries an ``Origin`` header) is served when the
page is on this server (same host and port as the ``Host`` header) or its origin is in
``ServerLimits.allow_origins`` (``--allow-origin``; ``*``: any); otherwise 403. Clients that are not
browsers send no ``Origin`` and are served. Allowed cross-origin requests get CORS headers.
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import tempfile
import threading
from contextlib import asynccontextmanager
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import validate as V
from ..errors import AsrError, AudioError, ConfigError
from ..options import DecodeOptions
from .settings import ServerLimits
from .protocol import HeadLimit, OriginPolicy, json_error as _error

STATIC = Path(__file__).parent / "static"
log = logging.getLogger("lstm_asr.server")

MAX_TEXT_FRAME = 4096          # characters of a WebSocket text (control) frame; longer ones are junk
MULTIPART_SLACK = 64 * 1024    # bytes of multipart framing allowed on top of max_upload_bytes

# WebSocket close codes of /v1/stream (the reason in the close frame, and an error frame before it, say more)
CLOSE_CODES = {
    1000: "normal end: the client sent {\"event\": \"end\"}, the last finals and {\"type\": \"end\"} were sent",
    1001: "idle: no audio for --idle-seconds (finals so far, then end, are sent first)",
    1008: "policy: bad parameters (at the start), more malformed frames than --max-bad-frames, or open "
          "longer than --max-wall-seconds (finals so far, then end, are sent first)",
    1009: "too long: more audio than --max-seconds (finals so far, then end, are sent first)",
    1011: "internal error (a bug of ours; logged)",
    1013: "busy: --max-streams streams are open; try again later",
}


class ClientError(Exception):
    """A bad request: answered with ``status`` and ``{"error": message}``."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


def decode_options(rec, params, max_beam: int) -> DecodeOptions:
    """Query parameters ``words`` (comma or space separated: only these words), ``beam`` (beams
    of the prefix search, at most ``max_beam``) and ``one_word`` (1: each stretch of speech is
    exactly one word of the list) on top of the model's own decoder -> DecodeOptions checked
    against the model; ClientError 400."""
    unknown = sorted(set(params) - {"words", "beam", "one_word", "sample_rate"})
    if unknown:
        shown = ", ".join(V.printable(u, 40) for u in unknown[:5])
        raise ClientError(400, f"unknown query parameter(s): {shown} (expected words, beam, one_word)")
    given = {}
    try:
        if params.get("words") is not None:
            given["words"] = V.query_words(params.get("words"))
        if params.get("beam") is not None:
            given["beam_size"] = V.query_int(params.get("beam"), "beam", 1, max_beam)
        if params.get("one_word") is not None:
            given["one_word"] = bool(V.query_int(params.get("one_word"), "one_word", 0, 1))
    except V.Invalid as e:
        raise ClientError(400, str(e)) from None
    try:
        return rec.check_options(DecodeOptions.from_dict(given, rec.default_options))
    except ConfigError as e:
        raise ClientError(400, str(e)) from None


# ---- upload bodies ---------------------------------------------------------------------------
def _bounded_receive(receive, limit: int, idle: float):
    """``receive`` that counts body bytes as they arrive: ClientError 413 past ``limit`` bytes
    (whatever Content-Length said, or with none: chunked), 408 when nothing comes for ``idle`` s."""
    got = 0

    async def bounded():
        nonlocal got
        try:
            msg = await asyncio.wait_for(receive(), idle)
        except asyncio.TimeoutError:
            raise ClientError(408, f"no data for {idle:g} s while receiving the upload") from None
        if msg["type"] == "http.request":
            got += len(msg.get("body", b""))
            if got > limit:
                raise ClientError(413, f"upload too large: more than {limit} bytes "
                                  f"(file limit {limit - MULTIPART_SLACK} bytes)", {"connection": "close"})
        return msg
    return bounded


def create_app(recognizer=None, model: str | None = None, limits: ServerLimits | None = None) -> FastAPI:
    """The app for ``recognizer`` (or the model ``model`` loaded now: a directory or a bundled
    name, None: the default)."""
    from ..audio import duration_of
    from ..streaming import StreamingRecognizer, StreamResampler

    limits = limits or ServerLimits()
    if recognizer is None:
        from ..transcribe import load_model
        recognizer = load_model(model)
    rec = recognizer
    pool = ThreadPoolExecutor(max_workers=limits.workers, thread_name_prefix="asr")
    streams = {"open": 0}
    uploads = {"open": 0}
    lock = threading.Lock()
    name = rec.config.get("name", "model")

    @asynccontextmanager
    async def lifespan(app):
        yield
        pool.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="lstm-asr", version=__import__("lstm_asr").__version__, lifespan=lifespan,
                  redirect_slashes=False,  # "/health/" is a 404, not a redirect built from the Host header
                  description="Speech recognition with LSTM/CTC models: uploads and live streams.")
    app.state.recognizer = rec
    app.state.limits = limits
    app.add_middleware(OriginPolicy, allow=limits.allow_origins)
    app.add_middleware(HeadLimit)  # added last: runs first

    busy = {"jobs": 0}  # model jobs submitted and not finished (queued or running)

    async def run(fn, *args):
        busy["jobs"] += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)
        finally:
            busy["jobs"] -= 1

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request, exc):  # 404, 405 (its Allow header kept), ...
        return _error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(ClientError)
    async def client_error(request, exc):
        return _error(exc.status, exc.message, exc.headers)

    @app.exception_handler(Exception)
    async def internal_error(request, exc):  # a bug of ours: logged, and a JSON 500
        log.exception("internal error")
        return _error(500, f"internal error: {type(exc).__name__}")

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def index():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.api_route("/static/{name}", methods=["GET", "HEAD"], include_in_schema=False)
    async def static(name: str):
        try:
            path = STATIC / V.static_name(name)
        except V.Invalid:
            raise ClientError(404, f"no such file: {V.printable(name, 64)}") from None
        if not path.is_file():
            raise ClientError(404, f"no such file: {name}")
        media = {".js": "text/javascript", ".css": "text/css", ".html": "text/html",
                 ".svg": "image/svg+xml"}.get(path.suffix, "application/octet-stream")
        return FileResponse(path, media_type=media)

    @app.api_route("/health", methods=["GET", "HEAD"])
    async def health():
        return {"status": "ok", "model": name, "streams": streams["open"], "jobs": busy["jobs"],
                "uploads": uploads["open"], "limits": dataclasses.asdict(limits),
                "words": list(rec.default_options.words) if rec.default_options.words else None,
                "units": rec.vocab.kind}

    @app.post("/v1/transcribe")
    async def transcribe(request: Request):
        opts = decode_options(rec, request.query_params, limits.max_beam)
        ctype = request.headers.get("content-type", "")
        if not ctype.startswith("multipart/form-data"):
            raise ClientError(415, "expected multipart/form-data with the audio in a field named 'file' "
                              f"(got content type {V.printable(ctype) or 'none'!r})")
        limit = limits.max_upload_bytes + MULTIPART_SLACK
        size = request.headers.get("content-length")
        if size is not None:
            try:
                size = V.query_int(size, "Content-Length")
            except V.Invalid as e:
                raise ClientError(400, str(e)) from None
            if size > limit:
                raise ClientError(413, f"upload too large: {size} bytes (limit {limits.max_upload_bytes})",
                                  {"connection": "close"})
        with lock:
            admitted = uploads["open"] < limits.max_uploads
            if admitted:
                uploads["open"] += 1
        if not admitted:
            raise ClientError(503, f"server busy: {limits.max_uploads} uploads in progress, try later",
                              {"retry-after": "5", "connection": "close"})
        try:
            return await _receive_and_transcribe(request, opts, limit)
        finally:
            with lock:
                uploads["open"] -= 1

    async def _receive_and_transcribe(request: Request, opts, limit: int):
        counted = Request(request.scope, _bounded_receive(request.receive, limit, limits.idle_seconds))
        try:
            form = await counted.form(max_files=1, max_fields=8)
        except ClientError:
            raise
        except Exception as e:  # noqa: BLE001 - a malformed multipart body
            detail = getattr(e, "detail", None) or str(e) or type(e).__name__
            raise ClientError(400, f"malformed multipart body: {V.printable(str(detail), 200)}") from None
        try:
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise ClientError(400, "no file: send the audio as a multipart file field named 'file'")
            filename = V.upload_name(upload.filename)
            data = await upload.read(limits.max_upload_bytes + 1)
        finally:
            await form.close()
        if not data:
            raise ClientError(400, f"{filename}: empty file")
        if len(data) > limits.max_upload_bytes:
            raise ClientError(413, f"{filename}: too large (limit {limits.max_upload_bytes} bytes)")
        return await run(_transcribe_bytes, data, filename, opts)

    def _transcribe_bytes(data: bytes, filename: str, opts):
        fd, tmp = tempfile.mkstemp(suffix=V.upload_suffix(filename), prefix="lstm-asr-upload-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            try:
                seconds = duration_of(tmp)
                if seconds > limits.max_seconds:
                    raise ClientError(413, f"{filename}: {seconds:.1f} s of audio (limit {limits.max_seconds:g} s)")
                t = rec.transcribe(tmp, options=opts)
            except AudioError as e:
                raise ClientError(400, f"{filename}: {e.reason}") from None
            except AsrError as e:
                raise ClientError(400, str(e).replace(tmp, filename)) from None
        finally:
            os.unlink(tmp)
        return {"text": t.text, "duration": round(t.duration, 3), "words": t.words,
                "segments": [{"text": s.text, "start": round(s.start, 3), "end": round(s.end, 3)}
                             for s in t.segments if s.text]}

    @app.websocket("/v1/stream")
    async def stream(ws: WebSocket):
        await ws.accept()
        with lock:
            admitted = streams["open"] < limits.max_streams
            if admitted:
                streams["open"] += 1
        if not admitted:
            await ws.send_json({"type": "error", "error": f"server busy: {limits.max_streams} streams open, try later"})
            await ws.close(code=1013, reason="server busy")
            return
        try:
            await _stream_session(ws)
        except WebSocketDisconnect:
            pass
        except Exception as e:  # noqa: BLE001 - a bug of ours: this stream ends, the server goes on
            log.exception("internal error in a stream")
            try:
                await ws.send_json({"type": "error", "error": f"internal error: {type(e).__name__}"})
                await ws.close(code=1011)
            except Exception:  # noqa: BLE001 - the client is gone already
                pass
        finally:
            with lock:
                streams["open"] -= 1

    async def _stream_session(ws: WebSocket):
        params = ws.query_params
        try:
            try:
                rate = V.query_sample_rate(params.get("sample_rate"))
            except V.Invalid as e:
                raise ClientError(400, str(e)) from None
            StreamResampler(rate)
            opts = decode_options(rec, params, limits.max_beam)
            live = StreamingRecognizer(rec, rate, opts, limits.partial_interval, limits.lookahead_s)
        except (ClientError, ConfigError) as e:
            await ws.send_json({"type": "error", "error": getattr(e, "message", str(e))})
            await ws.close(code=1008, reason="bad parameters")
            return

        async def send(events):
            for e in events:
                d = e.to_dict()
                if e.type == "partial":
                    d = {"type": "partial", "text": d["text"], "start": d["start"]}
                await ws.send_json(d)

        async def end(code: int, error: str | None, reason: str = ""):
            if error:
                await ws.send_json({"type": "error", "error": error})
            await send(await run(live.finish))
            await ws.send_json({"type": "end"})
            await ws.close(code=code, reason=reason)

        async def bad_frame(error: str) -> bool:
            """An error frame for a dropped frame; True when the stream has had too many."""
            nonlocal bad
            bad += 1
            await ws.send_json({"type": "error", "error": error})
            return bad > limits.max_bad_frames

        loop = asyncio.get_running_loop()
        max_samples = int(limits.max_seconds * rate)
        received = bad = 0
        opened = last_audio = loop.time()
        while True:
            now = loop.time()
            wall_left = opened + limits.max_wall_seconds - now
            idle_left = last_audio + limits.idle_seconds - now
            if wall_left <= 0:
                return await end(1008, f"stream open for {limits.max_wall_seconds:g} s (the wall-time limit): ended",
                                 "wall-time limit")
            if idle_left <= 0:
                return await end(1001, f"no data for {limits.idle_seconds:g} s: stream ended", "idle")
            try:
                msg = await asyncio.wait_for(ws.receive(), min(wall_left, idle_left))
            except asyncio.TimeoutError:
                continue  # the limits above say which
            if msg["type"] == "websocket.disconnect":
                return
            data, text = msg.get("bytes"), msg.get("text")
            if data is not None:
                if len(data) % 2 or not data:
                    if await bad_frame(f"a frame of int16 PCM needs an even number of bytes (at least 2), "
                                       f"got {len(data)}; frame dropped"):
                        return await end(1008, f"more than {limits.max_bad_frames} malformed frames: stream ended",
                                         "too many malformed frames")
                    continue
                last_audio = loop.time()  # only audio keeps a stream from being idle
                received += len(data) // 2
                if received > max_samples:
                    return await end(1009, f"stream longer than {limits.max_seconds:g} s: ended", "audio limit")
                # partial results are best effort: skipped while jobs queue up for the workers
                await send(await run(live.accept, data, busy["jobs"] < 2 * limits.workers))
            elif text is not None:
                error = None
                if len(text) > MAX_TEXT_FRAME:
                    error = f"text frame of {len(text)} characters (at most {MAX_TEXT_FRAME}); expected {{\"event\": \"end\"}}"
                else:
                    try:
                        event = json.loads(text)
                    except Exception:  # noqa: BLE001 - ValueError, RecursionError (deep nesting), ...
                        error = "malformed JSON in a text frame; expected {\"event\": \"end\"}"
                    else:
                        if not isinstance(event, dict) or event.get("event") != "end":
                            error = f"unknown message {text[:80]!r}; expected {{\"event\": \"end\"}}"
                if error is None:
                    return await end(1000, None)
                if await bad_frame(error):
                    return await end(1008, f"more than {limits.max_bad_frames} malformed frames: stream ended",
                                     "too many malformed frames")

    return app
