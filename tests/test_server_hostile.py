"""The service against hostile clients: `lstm_asr.server.serve` as a process on 127.0.0.1 with small
limits, attacked over HTTP (raw sockets where a client library would tidy the attack up) and
WebSocket. After every case /health answers and the server log holds no traceback; a bystander
client uploads a file all along and must always get the right text.

The five classes of the hostile-client issue, each with its regression test:
  1. bodies counted as they arrive ........ test_chunked_body_is_refused_as_it_crosses_the_limit
  2. every outside value parsed ........... test_hostile_file_names, test_odd_parameter_values,
                                            test_odd_static_paths
  3. text frames cannot kill a stream ..... test_hostile_text_frames_get_error_frames
  4. origins ............................... test_cross_origin_pages_are_refused
  5. nobody holds a slot forever .......... test_a_stream_cannot_hold_its_slot
"""
from __future__ import annotations

import contextlib
import json
import os
import select
import socket
import subprocess
import sys
import threading
import time

import pytest
import soundfile as sf

from conftest import ROOT, SAMPLES

httpx = pytest.importorskip("httpx", reason="needs the test extra (httpx)")
pytest.importorskip("fastapi", reason="needs the serve extra (fastapi, uvicorn, python-multipart, websockets)")
from websockets.exceptions import ConnectionClosed, InvalidStatus  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

MB = 1024 * 1024
LIMITS = {"max_upload_bytes": MB, "max_seconds": 30, "max_streams": 3, "idle_seconds": 3, "max_wall_seconds": 8,
          "max_bad_frames": 5, "max_uploads": 4, "allow_origins": ["http://allowed.example"]}
CLIP = SAMPLES / "string_1.wav"
LAUNCH = ("import json, sys, torch; torch.set_num_threads(1); from lstm_asr import server; "
          "server.serve('127.0.0.1', int(sys.argv[1]), None, server.limits(**json.loads(sys.argv[2])), log_level='info')")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """The server process, its log file (read from an offset: what the last case added)."""

    def __init__(self, tmp):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / "server.log"
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
        self.logfile = open(self.log, "w")
        self.proc = subprocess.Popen([sys.executable, "-c", LAUNCH, str(self.port), json.dumps(LIMITS)], cwd=ROOT,
                                     env=env, stdout=self.logfile, stderr=subprocess.STDOUT)
        self.offset = 0
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"the server exited:\n{self.log.read_text()}"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        self.stop()
        raise AssertionError(f"no /health in 120 s:\n{self.log.read_text()}")

    def new_log(self) -> str:
        text = self.log.read_text(errors="replace")
        new, self.offset = text[self.offset:], len(text)
        return new

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.logfile.close()


class Bystander(threading.Thread):
    """A legitimate client uploading CLIP every ~0.7 s while the attacks go on."""

    def __init__(self, url, expected):
        super().__init__(daemon=True)
        self.url, self.expected = url, expected
        self.done, self.wrong = 0, []
        self.stopped = threading.Event()

    def run(self):
        data = CLIP.read_bytes()
        while not self.stopped.is_set():
            try:
                r = httpx.post(self.url + "/v1/transcribe", files={"file": (CLIP.name, data)}, timeout=60)
                if r.status_code == 200 and r.json()["text"] == self.expected:
                    self.done += 1
                elif r.status_code != 503:  # only a busy server may turn it away (max_uploads)
                    self.wrong.append((r.status_code, r.text[:200]))
            except httpx.HTTPError as e:
                self.wrong.append(repr(e))
            self.stopped.wait(0.7)


@pytest.fixture(scope="module")
def server(tmp_path_factory, default_model):
    srv = Server(tmp_path_factory.mktemp("hostile"))
    srv.bystander = Bystander(srv.url, default_model.transcribe(CLIP).text)
    srv.bystander.start()
    yield srv
    srv.bystander.stopped.set()
    srv.bystander.join(timeout=60)
    srv.stop()


@pytest.fixture(autouse=True)
def still_serving(server):
    """After each case: /health answers, and the log holds no traceback."""
    yield
    assert httpx.get(server.url + "/health", timeout=30).status_code == 200
    log = server.new_log()
    assert "Traceback" not in log and "Exception in ASGI" not in log, log[-3000:]


# ---- helpers -----------------------------------------------------------------------------------
def raw_http(server, request: bytes, timeout: float = 30) -> tuple[int, dict, bytes]:
    """Send bytes, read the response until the server closes or it is complete: (status, headers, body)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as s:
        s.sendall(request)
        return read_response(s, timeout)


def read_response(s, timeout=30) -> tuple[int, dict, bytes]:
    s.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
    size = int(headers.get("content-length", "0"))
    with contextlib.suppress(OSError):
        while len(body) < size:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
    return int(lines[0].split()[1]), headers, body


def multipart(fields: list[tuple[bytes, bytes | None, bytes]], boundary=b"xYzZY") -> tuple[bytes, bytes]:
    """(content type, body) from (name, filename or None, data) fields, bytes as given."""
    body = b""
    for name, filename, data in fields:
        disp = b'form-data; name="' + name + b'"' + (b'; filename="' + filename + b'"' if filename is not None else b"")
        body += b"--" + boundary + b"\r\nContent-Disposition: " + disp + b"\r\n\r\n" + data + b"\r\n"
    return b"multipart/form-data; boundary=" + boundary, body + b"--" + boundary + b"--\r\n"


def post_raw(server, body: bytes, ctype: bytes, path=b"/v1/transcribe", extra=b"") -> tuple[int, dict, bytes]:
    head = (b"POST " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: " + ctype + b"\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\nConnection: close\r\n" + extra + b"\r\n")
    return raw_http(server, head + body)


def assert_json_error(status, headers, body, expected=None):
    assert 400 <= status < 500, (status, body[:300])
    assert headers.get("content-type", "").startswith("application/json"), (status, headers, body[:300])
    assert "error" in json.loads(body), body[:300]
    if expected is not None:
        assert status == expected, (status, body[:300])


def ws_url(server, query="sample_rate=16000"):
    return f"ws://127.0.0.1:{server.port}/v1/stream?{query}"


def pcm(path=CLIP) -> bytes:
    wave, rate = sf.read(path, dtype="int16")
    assert rate == 8000 or rate == 16000
    return wave.astype("<i2").tobytes(), rate


def receive_all(ws, timeout=30) -> list[dict]:
    got = []
    with contextlib.suppress(ConnectionClosed):
        while True:
            got.append(json.loads(ws.recv(timeout=timeout)))
    return got


def finals(messages) -> str:
    return " ".join(m["text"] for m in messages if m["type"] == "final" and m["text"])


# ---- class 1: bodies are counted as they arrive --------------------------------------------------
def test_chunked_body_is_refused_as_it_crosses_the_limit(server):
    """A chunked upload (no Content-Length) of 64 MB to a server limited to 1 MB: refused with 413
    once about 1 MB has arrived, not spooled in full first."""
    ctype, _ = multipart([])
    head = (b"POST /v1/transcribe HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: " + ctype
            + b"\r\nTransfer-Encoding: chunked\r\n\r\n")
    part = b'--xYzZY\r\nContent-Disposition: form-data; name="file"; filename="big.wav"\r\n\r\n'
    chunk = os.urandom(64 * 1024)
    sent, status = 0, None
    t = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
        s.sendall(head + b"%x\r\n" % len(part) + part + b"\r\n")
        try:
            while sent < 64 * MB:
                if select.select([s], [], [], 0)[0]:
                    break  # the server answered
                s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
                sent += len(chunk)
        except OSError:  # it closed the connection while we wrote
            pass
        with contextlib.suppress(OSError):
            status, headers, body = read_response(s, 30)
    assert sent < 16 * MB, f"the server read {sent / MB:.0f} MB before refusing (limit 1 MB)"
    if status is not None:
        assert_json_error(status, headers, body, 413)
    assert time.monotonic() - t < 30


def test_content_length_over_the_limit_is_refused_unread(server):
    status, headers, body = raw_http(server, b"POST /v1/transcribe HTTP/1.1\r\nHost: x\r\nContent-Type: "
                                     b"multipart/form-data; boundary=b\r\nContent-Length: 999999999999\r\n\r\n")
    assert_json_error(status, headers, body, 413)


@pytest.mark.parametrize("ctype,body,expected", [
    (b"multipart/form-data", b"--x\r\n\r\n", 400),                       # no boundary
    (b"multipart/form-data; boundary=zz", b"garbage without a boundary", 400),
    (b"multipart/form-data; boundary=xYzZY", b'--xYzZY\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\nRIFF', 400),
    (b"multipart/form-data; boundary=xYzZY", multipart([(b"f%d" % i, None, b"v") for i in range(50)])[1], 400),
    (b"multipart/form-data; boundary=xYzZY", multipart([(b"file", b"a.wav", b"RIFF"), (b"file", b"b.wav", b"RIFF")])[1], 400),
    (b"multipart/form-data; boundary=xYzZY", multipart([(b"file", None, b"text not a file")])[1], 400),
    (b"multipart/form-data; boundary=xYzZY", multipart([(b"note", None, b"x" * (2 * MB))])[1], 413),
    (b"text/plain\x01", b"x", 415),
], ids=["no-boundary", "no-parts", "truncated", "50-fields", "two-files", "file-as-text", "2MB-text-field", "odd-type"])
def test_malformed_multipart_bodies(server, ctype, body, expected):
    assert_json_error(*post_raw(server, body, ctype), expected)


# ---- class 2: every outside value is parsed by the validation layer -------------------------------
@pytest.mark.parametrize("filename", [b"a.w\x00av", b"clip.\x00", b"../../../etc/passwd", b"a" * 5000 + b".wav",
                                      b"\xe2\x80\xaevaw.exe", b"", b".wav", b"C:\\x\\clip.wav", b"clip.wav\x00.exe",
                                      b"%00.wav", b"\xff\xfe.wav", b"clip." + b"w" * 300],
                         ids=["nul-in-suffix", "nul-suffix", "traversal", "5000-chars", "rtl-override", "empty", "dot-wav",
                              "windows-path", "nul-middle", "percent", "not-utf8", "long-suffix"])
def test_hostile_file_names(server, filename):
    """Any name: the audio is still transcribed (the name only labels it), or a part header too
    long for the multipart parser is a 400; never a 500."""
    ctype, body = multipart([(b"file", filename, CLIP.read_bytes())])
    status, headers, data = post_raw(server, body, ctype)
    if len(filename) > 1000:
        assert_json_error(status, headers, data, 400)
        return
    assert status == 200, (status, data[:300])
    assert json.loads(data)["text"] == server.bystander.expected


@pytest.mark.parametrize("query", ["sample_rate=%D9%A1%D9%A6%D9%A0%D9%A0%D9%A0", "sample_rate=16000.0", "sample_rate=-16000",
                                   "sample_rate=1e4", "sample_rate=", "sample_rate=%2016000", "sample_rate=0x3e80",
                                   "sample_rate=" + "9" * 40, "sample_rate=%C2%B2", "", "words=one",
                                   "sample_rate=16000&beam=%D9%A3", "sample_rate=16000&beam=+3",
                                   "sample_rate=16000&beam=" + "9" * 40, "sample_rate=16000&words=%00",
                                   "sample_rate=16000&words=" + "one," * 2000, "sample_rate=16000&" + "x" * 3000 + "=1"],
                         ids=["arabic-digits", "float", "negative", "exponent", "empty", "space", "hex", "40-digits",
                              "superscript", "missing", "missing-with-words", "beam-arabic", "beam-plus", "beam-40-digits",
                              "words-nul", "words-8000-chars", "long-unknown"])
def test_odd_parameter_values(server, query):
    """Every odd value of a stream's parameters: an error frame and close 1008; of an upload's: a 400."""
    with connect(ws_url(server, query), open_timeout=30) as ws:
        messages = receive_all(ws)
    assert messages and messages[0]["type"] == "error" and ws.close_code == 1008, (messages, ws.close_code)
    assert len(messages[0]["error"]) < 400
    upload_query = "&".join(p for p in query.split("&") if not p.startswith("sample_rate"))
    if upload_query and "words=one" != upload_query:
        r = httpx.post(f"{server.url}/v1/transcribe?{upload_query}", files={"file": ("a.wav", CLIP.read_bytes())}, timeout=60)
        assert_json_error(r.status_code, r.headers, r.content, 400)


@pytest.mark.parametrize("path", [b"/static/" + b"a" * 256, b"/static/" + b"a" * 5000, b"/static/..%2F..%2Fapp.py",
                                  b"/static/%2e%2e%2fapp.py", b"/static/.%2e/app.py", b"/static/%00", b"/static/app.js%00.html",
                                  b"/static/..", b"/static/.hidden", b"/static/%C3%A9" * 60, b"/static/app.js/",
                                  b"/static//etc/passwd", b"/static/..\\app.py", b"/../../etc/passwd", b"/%ff"],
                         ids=["256-chars", "5000-chars", "encoded-traversal", "encoded-dots", "mixed-dots", "nul",
                              "nul-suffix", "dotdot", "hidden", "unicode", "trailing-slash", "double-slash", "backslash",
                              "root-traversal", "not-utf8"])
def test_odd_static_paths(server, path):
    status, headers, body = raw_http(server, b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert_json_error(status, headers, body)
    assert status in (400, 404)


# ---- class 3: a text frame cannot kill a stream -----------------------------------------------------
def test_hostile_text_frames_get_error_frames(server):
    """Deep JSON (a RecursionError in the parser), a 1 MB text frame, odd JSON: each gets an error
    frame, is dropped, and the stream's finals still come out right."""
    raw, rate = pcm()
    junk = ["[" * 3000, "[" * 100_000, "x" * MB, '{"event": "end", "x": ' + "[" * 2000 + "1" + "]" * 2000 + "}"]
    with connect(ws_url(server, f"sample_rate={rate}"), open_timeout=30, max_size=None) as ws:
        ws.send(raw[:6400])
        for j in junk:
            ws.send(j)
        for i in range(6400, len(raw), 6400):
            ws.send(raw[i:i + 6400])
        ws.send(json.dumps({"event": "end"}))
        messages = receive_all(ws)
    errors = [m["error"] for m in messages if m["type"] == "error"]
    assert len(errors) == len(junk), errors
    assert ws.close_code == 1000 and messages[-1] == {"type": "end"}
    assert finals(messages) == server.bystander.expected


def test_a_binary_frame_over_the_socket_limit_ends_only_that_stream(server):
    with connect(ws_url(server), open_timeout=30, max_size=None) as ws:
        ws.send(b"\0" * (5 * MB))  # over the server's 4 MB frame limit
        receive_all(ws)
    assert ws.close_code == 1009


# ---- class 4: origins ---------------------------------------------------------------------------------
def test_cross_origin_pages_are_refused(server):
    own = f"http://127.0.0.1:{server.port}"
    for origin in ("http://evil.example", "null", f"http://127.0.0.1:{server.port + 1}", "https://allowed.example",
                   "http://allowed.example.evil.example", "http://evil.example/\r\nx"):
        with pytest.raises(InvalidStatus) as e:
            connect(ws_url(server), open_timeout=30, origin=origin if "\r" not in origin else "http://e.example/x")
        assert e.value.response.status_code == 403, origin
        r = httpx.post(server.url + "/v1/transcribe", headers={"origin": origin.split("\r")[0]},
                       files={"file": ("a.wav", CLIP.read_bytes())}, timeout=60)
        assert r.status_code == 403 and "origin" in r.json()["error"], (origin, r.text)
        r = httpx.options(server.url + "/v1/transcribe", headers={"origin": origin.split("\r")[0],
                                                                   "access-control-request-method": "POST"})
        assert r.status_code == 403 and "access-control-allow-origin" not in r.headers
    # the server's own pages (same host and port as Host), and the allowed origin, are served
    for origin in (own, "http://allowed.example", "HTTP://Allowed.Example:80"):
        raw, rate = pcm()
        with connect(ws_url(server, f"sample_rate={rate}"), open_timeout=30, origin=origin) as ws:
            ws.send(raw)
            ws.send(json.dumps({"event": "end"}))
            messages = receive_all(ws)
        assert finals(messages) == server.bystander.expected and ws.close_code == 1000
    r = httpx.post(server.url + "/v1/transcribe", headers={"origin": "http://allowed.example"},
                   files={"file": ("a.wav", CLIP.read_bytes())}, timeout=60)
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "http://allowed.example"
    r = httpx.options(server.url + "/v1/transcribe", headers={"origin": "http://allowed.example",
                                                               "access-control-request-method": "POST"})
    assert r.status_code == 204 and "POST" in r.headers["access-control-allow-methods"]
    assert httpx.get(server.url + "/health").headers.get("access-control-allow-origin") is None  # no Origin: no CORS


# ---- class 5: nobody holds a slot forever ----------------------------------------------------------------
def test_a_stream_cannot_hold_its_slot(server):
    """Text frames do not reset the idle timer; a trickle of audio is ended at the wall-time limit;
    junk frames past --max-bad-frames end the stream. Each with its close code."""
    idle, wall = LIMITS["idle_seconds"], LIMITS["max_wall_seconds"]
    results = {}

    def text_only():  # one junk text frame a second: still idle
        with connect(ws_url(server), open_timeout=30) as ws:
            t = time.monotonic()
            with contextlib.suppress(ConnectionClosed):
                for _ in range(3):
                    ws.send('{"event": "ping"}')
                    time.sleep(1)
            messages = receive_all(ws, idle + 10)
            results["idle"] = (ws.close_code, time.monotonic() - t, messages)

    def trickle():  # one sample every 0.2 s: never idle, but the wall clock runs
        with connect(ws_url(server), open_timeout=30) as ws:
            t = time.monotonic()
            with contextlib.suppress(ConnectionClosed):
                while time.monotonic() - t < wall + 10:
                    ws.send(b"\0\0")
                    time.sleep(0.2)
            messages = receive_all(ws)
            results["wall"] = (ws.close_code, time.monotonic() - t, messages)

    def junk():
        with connect(ws_url(server), open_timeout=30) as ws:
            with contextlib.suppress(ConnectionClosed):
                for _ in range(LIMITS["max_bad_frames"] + 3):
                    ws.send(b"\1")
            messages = receive_all(ws)
            results["junk"] = (ws.close_code, 0, messages)
    threads = [threading.Thread(target=f) for f in (text_only, trickle, junk)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=wall + 30)
    code, took, messages = results["idle"]
    assert code == 1001 and idle - 0.5 <= took < idle + 2, (code, took)
    assert messages[-1] == {"type": "end"}
    code, took, messages = results["wall"]
    assert code == 1008 and wall - 0.5 <= took < wall + 3, (code, took)
    assert any("wall-time" in m.get("error", "") for m in messages) and messages[-1] == {"type": "end"}
    code, _, messages = results["junk"]
    assert code == 1008 and any("malformed frames" in m.get("error", "") for m in messages)
    deadline = time.monotonic() + 10
    while httpx.get(server.url + "/health").json()["streams"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert httpx.get(server.url + "/health").json()["streams"] == 0


def test_abandoned_and_excess_streams_free_their_slots(server):
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(connect(ws_url(server), open_timeout=30)) for _ in range(LIMITS["max_streams"])]
        for ws in socks:
            ws.send(b"\0" * 3200)
        time.sleep(0.5)
        with connect(ws_url(server), open_timeout=30) as extra:
            messages = receive_all(extra)
        assert extra.close_code == 1013 and "busy" in messages[0]["error"]
        for ws in socks:  # vanish without a close frame
            ws.socket.shutdown(socket.SHUT_RDWR)
            ws.socket.close()
    deadline = time.monotonic() + LIMITS["idle_seconds"] + 10
    while httpx.get(server.url + "/health").json()["streams"] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert httpx.get(server.url + "/health").json()["streams"] == 0


def test_slow_clients_are_cut_off(server):
    """Headers sent a byte at a time, and a body that stalls, do not hold a connection for ever."""
    idle = LIMITS["idle_seconds"]
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
        t = time.monotonic()
        with contextlib.suppress(OSError):
            for b in b"GET /health HTTP/1.1\r\nX-Slow: " + b"a" * 100:
                s.sendall(bytes([b]))
                time.sleep(0.1)
                if time.monotonic() - t > idle + 5:
                    break
        s.settimeout(5)
        with contextlib.suppress(OSError):
            assert s.recv(100) == b""  # closed by the server
        assert time.monotonic() - t < idle + 6
    ctype, body = multipart([(b"file", b"a.wav", CLIP.read_bytes())])
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
        s.sendall(b"POST /v1/transcribe HTTP/1.1\r\nHost: x\r\nContent-Type: " + ctype + b"\r\nContent-Length: "
                  + str(len(body)).encode() + b"\r\n\r\n" + body[:1000])
        t = time.monotonic()
        status, headers, data = read_response(s, idle + 10)
    assert_json_error(status, headers, data, 408)
    assert idle - 0.5 <= time.monotonic() - t < idle + 5


def test_more_uploads_than_slots_get_503(server):
    """Uploads that hold their slot while sending slowly: the one past --max-uploads gets a 503."""
    ctype, body = multipart([(b"file", b"a.wav", CLIP.read_bytes())])
    head = (b"POST /v1/transcribe HTTP/1.1\r\nHost: x\r\nContent-Type: " + ctype + b"\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\n\r\n")
    with contextlib.ExitStack() as stack:
        held = []
        for _ in range(LIMITS["max_uploads"] + 2):
            s = stack.enter_context(socket.create_connection(("127.0.0.1", server.port), timeout=30))
            s.sendall(head + body[:100])
            held.append(s)
        time.sleep(0.5)
        statuses = []
        for s in held:
            if select.select([s], [], [], 0.2)[0]:
                statuses.append(read_response(s)[0])
        assert statuses and set(statuses) == {503}, statuses
        for s in held:  # those admitted finish their upload and are served
            with contextlib.suppress(OSError):
                s.sendall(body[100:])
    assert httpx.get(server.url + "/health").json()["uploads"] <= LIMITS["max_uploads"]


# ---- methods, headers, logs ---------------------------------------------------------------------------------
def test_methods_and_head(server):
    for method, path, allow in (("PUT", "/v1/transcribe", "POST"), ("DELETE", "/health", "GET"), ("PATCH", "/", "GET"),
                                ("GET", "/v1/transcribe", "POST"), ("POST", "/health", "GET")):
        r = httpx.request(method, server.url + path)
        assert r.status_code == 405 and "error" in r.json(), (method, path)
        assert allow in r.headers.get("allow", ""), (method, path, r.headers)
    for path in ("/", "/health", "/static/app.js"):
        r = httpx.head(server.url + path)
        assert r.status_code == 200 and r.content == b"", path
    status, headers, body = raw_http(server, b"BREW / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert_json_error(status, headers, body, 405)


@pytest.mark.parametrize("request_bytes", [
    b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n",
    b"GET /" + b"a" * 200_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /health HTTP/1.1\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(20_000)) + b"\r\n",
    b"NOT HTTP AT ALL\r\n\r\n",
    b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    b"GET /health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
    b"POST /v1/transcribe HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
], ids=["200KB-header", "200KB-path", "20000-headers", "not-http", "bad-length", "bad-header", "length-and-chunked"])
def test_malformed_requests_get_a_json_400(server, request_bytes):
    """uvicorn's own refusals (h11 cannot parse the request, or its head is over 16 KB) are JSON too;
    a head over 16 KB that h11 took in one piece is refused by the app (431)."""
    status, headers, body = raw_http(server, request_bytes)
    assert_json_error(status, headers, body)
    if len(request_bytes) > 16 * 1024:
        assert status in (400, 431)
    elif b"chunked" not in request_bytes:
        assert status == 400


def test_a_20kb_head_in_one_piece_gets_431(server):
    status, headers, body = raw_http(server, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n")
    assert_json_error(status, headers, body, 431)


def test_access_log_lines_are_short(server):
    r = httpx.get(server.url + "/health?" + "q" * 15_000)
    assert r.status_code == 200
    time.sleep(0.3)
    lines = [line for line in server.new_log().splitlines() if "/health?" in line]
    assert lines and max(map(len, lines)) < 600, max(map(len, lines), default=0)


def test_the_bystander_was_served_throughout(server):
    assert server.bystander.wrong == [] and server.bystander.done >= 5, (server.bystander.done, server.bystander.wrong[:5])
