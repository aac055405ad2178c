"""The service for real: `lstm-asr serve` as a process on 127.0.0.1, spoken to over HTTP and WebSocket."""
from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import soundfile as sf

from conftest import ARCTIC, ROOT, SAMPLES

httpx = pytest.importorskip("httpx", reason="needs the test extra (httpx)")
pytest.importorskip("fastapi", reason="needs the serve extra (fastapi, uvicorn, python-multipart, websockets)")
from websockets.exceptions import ConnectionClosed  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

MAX_UPLOAD_MB = 1
MAX_SECONDS = 30
MAX_STREAMS = 3
IDLE_SECONDS = 4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(*extra: str) -> tuple[subprocess.Popen, str]:
    """`lstm-asr serve` on a free port; returns once /health answers (or fails with the log)."""
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "lstm_asr.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--log-level", "warning", *extra], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited ({proc.returncode}):\n{proc.stdout.read()}")
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"the server did not answer /health in 120 s:\n{proc.stdout.read()}")


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def server():
    proc, url = start_server("--max-upload-mb", str(MAX_UPLOAD_MB), "--max-seconds", str(MAX_SECONDS),
                             "--max-streams", str(MAX_STREAMS), "--idle-seconds", str(IDLE_SECONDS))
    yield url
    stop_server(proc)
    assert proc.returncode is not None


def ws_url(url: str, query: str) -> str:
    return url.replace("http://", "ws://") + "/v1/stream?" + query


def stream_file(url: str, path, frame_bytes: int = 6400, query: str = "", before=(), between=()):
    """Stream a file as int16 frames of ``frame_bytes`` (even) over /v1/stream; returns the
    messages received (in order) and the close code. ``before``/``between``: frames sent first /
    after the first audio frame (to test bad input)."""
    wave, rate = sf.read(path, dtype="int16")
    if wave.ndim == 2:
        wave = wave.mean(axis=1).astype(np.int16)
    raw = wave.astype("<i2").tobytes()
    messages: list[dict] = []
    with connect(ws_url(url, f"sample_rate={rate}{query}"), open_timeout=30, close_timeout=10) as ws:
        for m in before:
            ws.send(m)
        for k, i in enumerate(range(0, len(raw), frame_bytes)):
            ws.send(raw[i:i + frame_bytes])
            if k == 0:
                for m in between:
                    ws.send(m)
        ws.send(json.dumps({"event": "end"}))
        try:
            for m in ws:
                messages.append(json.loads(m))
        except ConnectionClosed:
            pass
        code = ws.close_code
    return messages, code


def finals_text(messages) -> str:
    return " ".join(m["text"] for m in messages if m["type"] == "final" and m["text"])


def test_health_and_page(server, default_model):
    r = httpx.get(server + "/health")
    assert r.status_code == 200 and r.json()["status"] == "ok" and r.json()["model"] == "digits-commands"
    # what the model listens for: its own decoder word list (None: any text it can spell), and its units
    assert r.json()["words"] == default_model.default_options.words and "yes" in r.json()["words"]
    assert r.json()["units"] == default_model.vocab.kind == "phones"
    page = httpx.get(server + "/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert 'name="viewport"' in page.text and "/static/app.js" in page.text
    for name in ("app.js", "pcm-worklet.js"):
        r = httpx.get(f"{server}/static/{name}")
        assert r.status_code == 200 and "javascript" in r.headers["content-type"]
    r = httpx.get(server + "/static/..%2Fapp.py")
    assert r.status_code == 404 and "error" in r.json()


@pytest.mark.parametrize("name", ["string_1.wav", "string_2.flac", "string_3.ogg", "7_jackson_2.wav"])
def test_upload_gives_the_offline_transcript(server, default_model, name):
    path = SAMPLES / name
    with open(path, "rb") as f:
        r = httpx.post(server + "/v1/transcribe", files={"file": (name, f, "application/octet-stream")}, timeout=60)
    assert r.status_code == 200, r.text
    body = r.json()
    offline = default_model.transcribe(path)
    assert body["text"] == offline.text and body["text"]
    assert body["duration"] == pytest.approx(offline.duration, abs=1e-3)
    assert [w["word"] for w in body["words"]] == body["text"].split()
    assert all({"start", "end", "confidence"} <= set(w) for w in body["words"])


def test_decoding_options_as_query_parameters(server, default_model):
    from lstm_asr import DecodeOptions
    path = SAMPLES / "string_2.flac"  # "six zero nine one"

    def post(query):
        with open(path, "rb") as f:
            return httpx.post(f"{server}/v1/transcribe?{query}", files={"file": (path.name, f)}, timeout=60)
    r = post("words=six,nine&beam=4")
    assert r.status_code == 200 and set(r.json()["text"].split()) <= {"six", "nine"}
    own = default_model.default_options  # the server's options go on top of the model's own (its priors among them)
    assert r.json()["text"] == default_model.transcribe(
        path, options=DecodeOptions.from_dict({"beam_size": 4, "words": ["six", "nine"]}, own)).text
    r = post("words=six%20zero%20nine%20one")
    assert r.status_code == 200 and r.json()["text"] == "six zero nine one"
    r = post("words=six,nine&one_word=1")  # one of the two words per stretch of speech
    one = DecodeOptions.from_dict({"words": ["six", "nine"], "one_word": True}, own)
    assert r.status_code == 200 and r.json()["text"] == default_model.transcribe(path, options=one).text
    assert r.json()["text"] and set(r.json()["text"].split()) <= {"six", "nine"}
    for query, status, match in (("beam=0", 400, "beam"), ("beam=x", 400, "beam"), ("beam=100000", 400, "beam"),
                                 ("one_word=2", 400, "one_word"), ("one_word=yes", 400, "one_word"),
                                 ("words=%E6%97%A5%E6%9C%AC", 400, "cannot output"), ("lang=en", 400, "unknown query")):
        r = post(query)
        assert r.status_code == status and match in r.json()["error"], (query, r.text)


def test_bad_uploads_get_a_4xx_with_a_json_error(server):
    post = lambda **kw: httpx.post(server + "/v1/transcribe", timeout=60, **kw)  # noqa: E731
    cases = [
        (post(files={"file": ("notes.wav", b"this is not audio at all" * 50)}), 400, "notes.wav"),
        (post(files={"file": ("empty.wav", b"")}), 400, "empty"),
        (post(files={"file": ("big.wav", os.urandom(MAX_UPLOAD_MB * 1024 * 1024 + 100_000))}), 413, "too large"),
        (post(json={"file": "clip.wav"}), 415, "multipart"),
        (post(content=b"raw bytes", headers={"content-type": "audio/wav"}), 415, "multipart"),
        (post(data={"other": "x"}, files={"upload": ("a.wav", b"RIFF")}), 400, "'file'"),
    ]
    long = io.BytesIO()  # longer than the server's --max-seconds, small enough to upload
    sf.write(long, np.zeros(8000 * (MAX_SECONDS + 5), np.int16), 8000, format="WAV", subtype="PCM_16")
    cases.append((post(files={"file": ("long.wav", long.getvalue())}), 413, "limit"))
    short = io.BytesIO()
    sf.write(short, np.zeros(100, np.int16), 16000, format="WAV", subtype="PCM_16")
    cases.append((post(files={"file": ("short.wav", short.getvalue())}), 400, "short.wav"))
    for r, status, match in cases:
        assert r.status_code == status, (match, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/json")
        assert match in r.json()["error"], (match, r.json())
    assert httpx.get(server + "/health").status_code == 200  # still serving


@pytest.mark.parametrize("path,frame_bytes", [(SAMPLES / "string_2.flac", 8822), (ARCTIC, 2), (SAMPLES / "3_theo_4.wav", 3200)],
                         ids=["44.1kHz-stereo", "one-sample-frames", "8kHz"])
def test_a_stream_gives_partials_then_finals_equal_to_the_offline_transcript(server, default_model, path, frame_bytes):
    if frame_bytes == 2:  # one sample per frame is many messages: the first 1.5 s only
        wave, rate = sf.read(path, dtype="int16")
        path = io.BytesIO()
        sf.write(path, wave[:24000], rate, format="WAV")
        path.seek(0)
        offline = default_model.transcribe(wave[:24000], rate)
    else:
        offline = default_model.transcribe(path)
    messages, code = stream_file(server, path, frame_bytes)
    assert code == 1000 and messages[-1] == {"type": "end"}
    assert finals_text(messages) == offline.text and offline.text
    finals = [m for m in messages if m["type"] == "final"]
    assert all({"text", "start", "end"} <= set(m) for m in finals)
    assert [m["text"] for m in finals if m["text"]] == [s.text for s in offline.segments if s.text]
    if path == SAMPLES / "string_2.flac":  # 2.3 s: long enough for partial results (3_theo_4 is 0.6 s)
        kinds = [m["type"] for m in messages]
        assert "partial" in kinds and kinds.index("partial") < kinds.index("final")


def test_bad_frames_get_error_frames_and_the_stream_goes_on(server, default_model):
    path = SAMPLES / "string_1.wav"
    messages, code = stream_file(server, path, between=[b"\x01\x02\x03", "{not json", json.dumps({"event": "pause"}),
                                                        json.dumps([1, 2])])
    errors = [m["error"] for m in messages if m["type"] == "error"]
    assert len(errors) == 4
    assert "even number of bytes" in errors[0] and "malformed JSON" in errors[1]
    assert "unknown message" in errors[2] and "unknown message" in errors[3]
    assert code == 1000 and finals_text(messages) == default_model.transcribe(path).text


@pytest.mark.parametrize("query,match", [("sample_rate=abc", "sample_rate"), ("sample_rate=0", "sample rate"),
                                         ("sample_rate=16000&beam=-1", "beam"), ("sample_rate=16000&words=%E6%97%A5%E6%9C%AC", "cannot output")])
def test_a_stream_with_bad_parameters_is_refused(server, query, match):
    with connect(ws_url(server, query), open_timeout=30) as ws:
        msg = json.loads(ws.recv(timeout=30))
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=30)
    assert msg["type"] == "error" and match in msg["error"]
    assert ws.close_code == 1008


def test_limits_on_streams_and_the_server_keeps_serving(server, default_model):
    with contextlib.ExitStack() as stack:
        held = [stack.enter_context(connect(ws_url(server, "sample_rate=16000"), open_timeout=30))
                for _ in range(MAX_STREAMS)]
        for ws in held:
            ws.send(np.zeros(1600, "<i2").tobytes())
        time.sleep(0.5)
        with connect(ws_url(server, "sample_rate=16000"), open_timeout=30) as extra:
            msg = json.loads(extra.recv(timeout=30))
            with pytest.raises(ConnectionClosed):
                extra.recv(timeout=30)
        assert msg["type"] == "error" and "busy" in msg["error"] and extra.close_code == 1013
        assert httpx.get(server + "/health").json()["streams"] == MAX_STREAMS
    deadline = time.monotonic() + 10
    while httpx.get(server + "/health").json()["streams"] and time.monotonic() < deadline:
        time.sleep(0.1)
    # a stream longer than --max-seconds is ended with an error, its finals and an end message
    with connect(ws_url(server, "sample_rate=8000"), open_timeout=30) as ws:
        silence = np.zeros(8000, "<i2").tobytes()
        got = []
        try:
            for _ in range(MAX_SECONDS + 2):
                ws.send(silence)
            for m in ws:
                got.append(json.loads(m))
        except ConnectionClosed:
            pass
    assert any(m["type"] == "error" and "longer than" in m["error"] for m in got) and got[-1] == {"type": "end"}
    assert ws.close_code == 1009
    # a stream that goes quiet (no frames at all) is ended after --idle-seconds, freeing its place
    with connect(ws_url(server, "sample_rate=16000"), open_timeout=30) as ws:
        t = time.monotonic()
        msg = json.loads(ws.recv(timeout=IDLE_SECONDS + 30))
        assert msg["type"] == "error" and "no data" in msg["error"] and time.monotonic() - t >= IDLE_SECONDS - 0.5
        assert json.loads(ws.recv(timeout=30)) == {"type": "end"}
    # and everyone else is still served
    messages, code = stream_file(server, SAMPLES / "commands_1.wav")
    assert code == 1000 and finals_text(messages) == default_model.transcribe(SAMPLES / "commands_1.wav").text


def test_streams_and_uploads_side_by_side(server, default_model):
    paths = [SAMPLES / "string_1.wav", SAMPLES / "commands_1.wav", ARCTIC]
    results: dict = {}

    def run_stream(p):
        results[("stream", p)] = finals_text(stream_file(server, p, 3200)[0])

    def run_upload(p):
        with open(p, "rb") as f:
            results[("upload", p)] = httpx.post(server + "/v1/transcribe", files={"file": (p.name, f)}, timeout=120).json()["text"]
    threads = [threading.Thread(target=run_stream, args=(p,)) for p in paths[:MAX_STREAMS]]
    threads += [threading.Thread(target=run_upload, args=(p,)) for p in paths]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    for (kind, p), text in results.items():
        assert text == default_model.transcribe(p).text, (kind, p)
    assert len(results) == len(threads)
