"""The service: FastAPI app over one loaded :class:`~lstm_asr.transcribe.Recognizer`.

    GET  /             the web page (microphone with live text, file upload)
    GET  /health       200 {"status": "ok", "model": NAME, "streams": N} while the model is loaded
    POST /v1/transcribe?words=W1,W2&beam=N     multipart field ``file`` (any format soundfile reads)
                       -> 200 {"text", "duration", "words": [{"word", "start", "end", "confidence"}],
                       "segments": [{"text", "start", "end"}]}
    WS   /v1/stream?sample_rate=R&words=..&beam=..   binary frames: little-endian int16 mono PCM at
                       R Hz (any even byte count); text frame {"event": "end"} when done. The server
                       sends {"type": "partial", "text"} and {"type": "final", "text", "start", "end",
                       "words"}; after the end event its last finals, then {"type": "end"}, and closes.
                       Bad input gets {"type": "error", "error": ...} and the stream goes on (a
                       malformed frame is dropped), or ends when it cannot go on (a limit).

Every error is JSON ``{"error": "..."}`` with a 4xx status (5xx only for a bug of ours). The model
runs in a thread pool, never on the event loop, so one slow request does not stall the others.
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
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import AsrError, AudioError, ConfigError

STATIC = Path(__file__).parent / "static"
log = logging.getLogger("lstm_asr.server")


@dataclass
class ServerLimits:
    """What one client may ask of the server (each an option of ``lstm-asr serve``)."""
    max_upload_bytes: int = 50 * 1024 * 1024   # POST /v1/transcribe file size
    max_seconds: float = 600.0                 # audio duration of an upload, and of one stream
    max_streams: int = 64                      # WebSocket streams open at once (more: refused)
    workers: int = 2                           # threads running the model (the cores to use)
    partial_interval: float = 0.5              # seconds of new audio between partial results
    idle_seconds: float = 60.0                 # a stream that sends nothing for this long is ended
    max_beam: int = 64

    def __post_init__(self):
        for name in ("max_upload_bytes", "max_streams", "workers", "max_beam"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"server limit {name} must be >= 1, not {getattr(self, name)}")
        if not self.idle_seconds > 0:
            raise ConfigError(f"server limit idle_seconds must be > 0, not {self.idle_seconds}")
        if not self.max_seconds > 0:
            raise ConfigError(f"server limit max_seconds must be > 0, not {self.max_seconds}")
        if self.partial_interval < 0:
            raise ConfigError(f"partial_interval must be >= 0, not {self.partial_interval}")


class ClientError(Exception):
    """A bad request: answered with ``status`` and ``{"error": message}``."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def decode_options(rec, params, max_beam: int = 64) -> object:
    """Query parameters ``words`` (comma or space separated: only these words) and ``beam`` (beams
    of the prefix search) on top of the model's own decoder -> DecodeOptions; ClientError 400."""
    from ..transcribe import DecodeOptions  # noqa: F401  (the type built)
    unknown = sorted(set(params) - {"words", "beam", "sample_rate"})
    if unknown:
        raise ClientError(400, f"unknown query parameter(s): {', '.join(unknown)} (expected words, beam)")
    opts = dataclasses.replace(rec.default_options)
    words = params.get("words")
    if words is not None:
        opts.words = words.replace(",", " ").split() or None
    beam = params.get("beam")
    if beam is not None:
        try:
            opts.beam_size = int(beam)
        except ValueError:
            raise ClientError(400, f"beam must be an integer, not {beam!r}") from None
        if not 1 <= opts.beam_size <= max_beam:
            raise ClientError(400, f"beam must be between 1 and {max_beam}, not {opts.beam_size}")
    try:
        return rec.check_options(opts)
    except ConfigError as e:
        raise ClientError(400, str(e)) from None


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
    lock = threading.Lock()
    name = rec.config.get("name", "model")

    @asynccontextmanager
    async def lifespan(app):
        yield
        pool.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="lstm-asr", version=__import__("lstm_asr").__version__, lifespan=lifespan,
                  description="Speech recognition with LSTM/CTC models: uploads and live streams.")
    app.state.recognizer = rec
    app.state.limits = limits

    busy = {"jobs": 0}  # model jobs submitted and not finished (queued or running)

    async def run(fn, *args):
        busy["jobs"] += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)
        finally:
            busy["jobs"] -= 1

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request, exc):
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(ClientError)
    async def client_error(request, exc):
        return _error(exc.status, exc.message)

    @app.exception_handler(Exception)
    async def internal_error(request, exc):  # a bug of ours: logged, and a JSON 500
        log.exception("internal error")
        return _error(500, f"internal error: {type(exc).__name__}")

    @app.get("/", include_in_schema=False)
    async def index():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str):
        path = STATIC / name
        if "/" in name or name.startswith(".") or not path.is_file():
            raise ClientError(404, f"no such file: {name}")
        media = {".js": "text/javascript", ".css": "text/css", ".html": "text/html",
                 ".svg": "image/svg+xml"}.get(path.suffix, "application/octet-stream")
        return FileResponse(path, media_type=media)

    @app.get("/health")
    async def health():
        return {"status": "ok", "model": name, "streams": streams["open"], "jobs": busy["jobs"],
                "limits": dataclasses.asdict(limits)}

    @app.post("/v1/transcribe")
    async def transcribe(request: Request):
        opts = decode_options(rec, request.query_params, limits.max_beam)
        ctype = request.headers.get("content-type", "")
        if not ctype.startswith("multipart/form-data"):
            raise ClientError(415, "expected multipart/form-data with the audio in a field named 'file' "
                              f"(got content type {ctype or 'none'!r})")
        size = request.headers.get("content-length")
        if size and size.isdigit() and int(size) > limits.max_upload_bytes + 64 * 1024:
            raise ClientError(413, f"upload too large: {int(size)} bytes (limit {limits.max_upload_bytes})")
        try:
            form = await request.form(max_files=1, max_fields=8)
        except Exception as e:  # noqa: BLE001 - a malformed multipart body
            raise ClientError(400, f"malformed multipart body: {e}") from None
        try:
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise ClientError(400, "no file: send the audio as a multipart file field named 'file'")
            filename = Path(upload.filename or "upload").name
            data = await upload.read(limits.max_upload_bytes + 1)
        finally:
            await form.close()
        if not data:
            raise ClientError(400, f"{filename}: empty file")
        if len(data) > limits.max_upload_bytes:
            raise ClientError(413, f"{filename}: too large (limit {limits.max_upload_bytes} bytes)")
        return await run(_transcribe_bytes, data, filename, opts)

    def _transcribe_bytes(data: bytes, filename: str, opts):
        suffix = Path(filename).suffix if len(Path(filename).suffix) <= 8 else ""
        fd, tmp = tempfile.mkstemp(suffix=suffix, prefix="lstm-asr-upload-")
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
            await ws.close(code=1013)
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
            rate = params.get("sample_rate", "16000")
            if not rate.isdigit():
                raise ClientError(400, f"sample_rate must be an integer number of Hz, not {rate!r}")
            StreamResampler(int(rate))
            opts = decode_options(rec, params, limits.max_beam)
            live = StreamingRecognizer(rec, int(rate), opts, limits.partial_interval)
        except (ClientError, ConfigError) as e:
            await ws.send_json({"type": "error", "error": getattr(e, "message", str(e))})
            await ws.close(code=1008)
            return

        async def send(events):
            for e in events:
                d = e.to_dict()
                if e.type == "partial":
                    d = {"type": "partial", "text": d["text"], "start": d["start"]}
                await ws.send_json(d)

        max_samples = int(limits.max_seconds * int(rate))
        received = 0
        while True:
            try:
                msg = await asyncio.wait_for(ws.receive(), limits.idle_seconds)
            except asyncio.TimeoutError:
                await ws.send_json({"type": "error", "error": f"no data for {limits.idle_seconds:g} s: stream ended"})
                await send(await run(live.finish))
                await ws.send_json({"type": "end"})
                await ws.close(code=1001)
                return
            if msg["type"] == "websocket.disconnect":
                return
            data, text = msg.get("bytes"), msg.get("text")
            if data is not None:
                if len(data) % 2:
                    await ws.send_json({"type": "error", "error": f"a frame of int16 PCM needs an even number "
                                        f"of bytes, got {len(data)}; frame dropped"})
                    continue
                received += len(data) // 2
                if received > max_samples:
                    await ws.send_json({"type": "error", "error": f"stream longer than {limits.max_seconds:g} s: ended"})
                    await send(await run(live.finish))
                    await ws.send_json({"type": "end"})
                    await ws.close(code=1009)
                    return
                # partial results are best effort: skipped while jobs queue up for the workers
                await send(await run(live.accept, data, busy["jobs"] < 2 * limits.workers))
            elif text is not None:
                try:
                    event = json.loads(text)
                except ValueError:
                    await ws.send_json({"type": "error", "error": "malformed JSON in a text frame; expected {\"event\": \"end\"}"})
                    continue
                if not isinstance(event, dict) or event.get("event") != "end":
                    await ws.send_json({"type": "error", "error": f"unknown message {text[:80]!r}; expected {{\"event\": \"end\"}}"})
                    continue
                await send(await run(live.finish))
                await ws.send_json({"type": "end"})
                await ws.close(code=1000)
                return

    return app
