"""Soak: `lstm_asr.server.serve` on 127.0.0.1 under mixed legitimate and hostile traffic for
--minutes, with the server's RSS sampled. Passes when every legitimate result is right (uploads:
the offline text; streams: finals joined = the offline text), /health answers at the end, the log
holds no traceback, and RSS grows by at most --rss-bound-mb from its level after the warm-up (the
first tenth of the run, at least 30 s) to the end and to the peak.

    nice -n 19 .venv/bin/python benchmarks/soak_server.py --minutes 10

Prints one JSON line and appends it to benchmarks/results/soak_server.jsonl; exit status 1 on failure.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
LIMITS = {"max_upload_bytes": 1024 * 1024, "max_seconds": 30, "max_streams": 8, "idle_seconds": 3,
          "max_wall_seconds": 20, "max_bad_frames": 5, "max_uploads": 6, "workers": 2}
LAUNCH = ("import json, sys, torch; torch.set_num_threads(1); from lstm_asr import server; "
          "server.serve('127.0.0.1', int(sys.argv[1]), None, server.limits(**json.loads(sys.argv[2])), log_level='warning')")
FILES = ["string_1.wav", "string_2.flac", "commands_1.wav", "7_jackson_2.wav"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Soak:
    def __init__(self, url: str, port: int, expected: dict):
        import httpx
        self.httpx, self.url, self.port, self.expected = httpx, url, port, expected
        self.counts = {"upload": 0, "stream": 0, "hostile": 0, "busy": 0}
        self.wrong: list = []
        self.lock = threading.Lock()

    def note(self, kind, ok=True, detail=None):
        with self.lock:
            self.counts[kind] += 1
            if not ok:
                self.wrong.append((kind, detail))

    # ---- legitimate ----
    def upload(self, name):
        r = self.httpx.post(self.url + "/v1/transcribe", files={"file": (name, (SAMPLES / name).read_bytes())}, timeout=120)
        if r.status_code == 503:
            return self.note("busy")
        self.note("upload", r.status_code == 200 and r.json()["text"] == self.expected[name], (name, r.status_code, r.text[:200]))

    def stream(self, name):
        import numpy as np
        import soundfile as sf
        from websockets.exceptions import ConnectionClosed
        from websockets.sync.client import connect
        wave, rate = sf.read(SAMPLES / name, dtype="int16")
        if wave.ndim == 2:
            wave = wave.mean(axis=1).astype(np.int16)
        raw = wave.astype("<i2").tobytes()
        got = []
        with connect(f"ws://127.0.0.1:{self.port}/v1/stream?sample_rate={rate}", open_timeout=60) as ws:
            for i in range(0, len(raw), 3200):
                ws.send(raw[i:i + 3200])
            ws.send('{"event": "end"}')
            with contextlib.suppress(ConnectionClosed):
                while True:
                    got.append(json.loads(ws.recv(timeout=60)))
        if ws.close_code == 1013:
            return self.note("busy")
        text = " ".join(m["text"] for m in got if m["type"] == "final" and m["text"])
        self.note("stream", ws.close_code == 1000 and text == self.expected[name], (name, ws.close_code, text))

    # ---- hostile ----
    def raw(self, data: bytes, read=True, pause=0.0):
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as s:
            with contextlib.suppress(OSError):
                s.sendall(data)
                if pause:
                    time.sleep(pause)
                if read:
                    s.recv(65536)

    def hostile(self, rng: random.Random):
        from websockets.exceptions import ConnectionClosed, InvalidStatus
        from websockets.sync.client import connect
        kind = rng.randrange(10)
        boundary = b"xYzZY"
        ctype = b"multipart/form-data; boundary=" + boundary
        ws = f"ws://127.0.0.1:{self.port}/v1/stream"
        with contextlib.suppress(OSError, ConnectionClosed, InvalidStatus, TimeoutError, self.httpx.HTTPError):
            if kind == 0:  # chunked 8 MB body to a 1 MB limit
                head = (b"POST /v1/transcribe HTTP/1.1\r\nHost: x\r\nContent-Type: " + ctype + b"\r\nTransfer-Encoding: chunked\r\n\r\n")
                chunk = os.urandom(65536)
                with socket.create_connection(("127.0.0.1", self.port), timeout=30) as s:
                    s.sendall(head)
                    for _ in range(128):
                        s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            elif kind == 1:  # NUL in the file name's extension
                body = (b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="a.w\x00av"\r\n\r\n'
                        + (SAMPLES / "string_1.wav").read_bytes() + b"\r\n--" + boundary + b"--\r\n")
                self.raw(b"POST /v1/transcribe HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: " + ctype
                         + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            elif kind == 2:  # odd parameters
                q = rng.choice(["sample_rate=%D9%A1%D9%A6%D9%A0%D9%A0%D9%A0", "sample_rate=16000&beam=%D9%A3", "", "sample_rate=1e4",
                                "sample_rate=16000&words=%00"])
                with connect(f"{ws}?{q}", open_timeout=30) as c:
                    c.recv(timeout=30)
            elif kind == 3:  # deep JSON and huge text frames in a stream
                with connect(f"{ws}?sample_rate=16000", open_timeout=30, max_size=None) as c:
                    c.send("[" * 3000)
                    c.send("x" * 1024 * 1024)
                    c.send('{"event": "end"}')
                    while True:
                        c.recv(timeout=30)
            elif kind == 4:  # a page of another origin
                with connect(f"{ws}?sample_rate=16000", open_timeout=30, origin="http://evil.example"):
                    pass
            elif kind == 5:  # junk frames past the limit
                with connect(f"{ws}?sample_rate=16000", open_timeout=30) as c:
                    for _ in range(8):
                        c.send(b"\1")
                    while True:
                        c.recv(timeout=30)
            elif kind == 6:  # abandoned stream: audio, then the socket just closes
                with connect(f"{ws}?sample_rate=16000", open_timeout=30) as c:
                    c.send(b"\0" * 3200)
                    c.socket.shutdown(socket.SHUT_RDWR)
                    c.socket.close()
            elif kind == 7:  # slow, never-finished request head
                self.raw(b"GET /health HTTP/1.1\r\nX-Slow: a", read=False, pause=1.0)
            elif kind == 8:  # oversized head and a long path
                self.raw(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n")
                self.httpx.get(self.url + "/static/" + "a" * 256, timeout=30)
            else:  # traversal and odd methods
                self.raw(b"GET /static/..%2F..%2Fapp.py HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                self.httpx.request("BREW", self.url + "/health", timeout=30)
        self.note("hostile")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--clients", type=int, default=3, help="client threads (each: legitimate and hostile in turn)")
    ap.add_argument("--rss-bound-mb", type=float, default=64.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "soak_server.jsonl"))
    args = ap.parse_args()
    import signal
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # so the server process is stopped too

    import torch
    torch.set_num_threads(1)
    import httpx
    import lstm_asr
    model = lstm_asr.load_model()
    expected = {name: model.transcribe(SAMPLES / name).text for name in FILES}

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
    proc = subprocess.Popen([sys.executable, "-c", LAUNCH, str(port), json.dumps(LIMITS)], cwd=ROOT, stdout=log,
                            stderr=subprocess.STDOUT, env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        deadline = time.monotonic() + 180
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the server did not start:\n{Path(log.name).read_text()}")
            time.sleep(0.3)
        soak = Soak(url, port, expected)
        t0 = time.monotonic()
        end = t0 + args.minutes * 60
        warm_at = t0 + max(30.0, args.minutes * 6)
        samples: list[tuple[float, float]] = [(0.0, rss_mb(proc.pid))]
        stop = threading.Event()

        def client(k):
            rng = random.Random(args.seed * 100 + k)
            while not stop.is_set() and time.monotonic() < end:
                try:
                    r = rng.random()
                    if r < 0.35:
                        soak.upload(rng.choice(FILES))
                    elif r < 0.6:
                        soak.stream(rng.choice(FILES))
                    else:
                        soak.hostile(rng)
                except Exception as e:  # noqa: BLE001 - a legitimate request that failed outright
                    soak.note("upload", False, repr(e))
                stop.wait(rng.uniform(0.05, 0.3))
        threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(args.clients)]
        for th in threads:
            th.start()
        while time.monotonic() < end:
            time.sleep(5)
            samples.append((round(time.monotonic() - t0, 1), rss_mb(proc.pid)))
        stop.set()
        for th in threads:
            th.join(timeout=120)
        time.sleep(LIMITS["idle_seconds"] + 2)  # abandoned streams time out
        health = httpx.get(url + "/health", timeout=30).json()
        samples.append((round(time.monotonic() - t0, 1), rss_mb(proc.pid)))
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=15)
        if proc.poll() is None:
            proc.kill()
    text = Path(log.name).read_text(errors="replace")
    os.unlink(log.name)
    warm = next((r for t, r in samples if t >= warm_at - t0), samples[-1][1])
    peak = max(r for _, r in samples)
    result = {
        "command": " ".join(["benchmarks/soak_server.py", *sys.argv[1:]]), "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared)", "minutes": args.minutes,
        "clients": args.clients, "limits": LIMITS, "requests": soak.counts, "legitimate_wrong": len(soak.wrong),
        "wrong_examples": soak.wrong[:5], "rss_mb": {"start": round(samples[0][1], 1), "after_warmup": round(warm, 1),
                                                     "peak": round(peak, 1), "end": round(samples[-1][1], 1)},
        "rss_bound_mb": args.rss_bound_mb, "tracebacks": text.count("Traceback"),
        "streams_open_at_end": health["streams"], "uploads_open_at_end": health["uploads"],
    }
    result["passed"] = (not soak.wrong and result["tracebacks"] == 0 and health["streams"] == 0
                        and soak.counts["upload"] > 0 and soak.counts["stream"] > 0
                        and peak - warm <= args.rss_bound_mb and samples[-1][1] - warm <= args.rss_bound_mb)
    line = json.dumps(result)
    print(line)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "a") as f:
        f.write(line + "\n")
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
