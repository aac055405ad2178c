"""Load test of the live service: many concurrent WebSocket streams on loopback.

Starts `lstm-asr serve` (the bundled default model, or ``--model``) on 127.0.0.1, then opens ``--streams``
WebSocket streams at once (start times spread over ``--spread`` seconds). Each sends real speech
(FSDD digit strings and Speech Commands words from tests/data, joined with pauses, 16 kHz or
48 kHz) as 100 ms int16 frames **at real-time pace**, then the end event, and checks that its joined
finals equal the offline transcript of the same audio with the same look-ahead
(``Recognizer.with_lookahead(S).transcribe``; ``--lookahead``, 4 s as ``lstm-asr serve``).

Measured:
* latency from the end of speech to its final result: for each final with words, the wall time it
  arrived minus the wall time the sample at its last word's end was sent (paced runs). Part of it is
  by design: the segmenter decides 1 s behind the audio and a segment ends after 0.3 s of silence;
* ``--ramp``: paced runs with more and more streams; the most streams the machine sustains in real
  time is the largest count whose streams all kept up (p95 latency within 1 s of the 50-stream run's
  and every final correct);
* ``--unpaced``: the streams send as fast as the server takes it: audio seconds processed per wall
  second (an upper bound on real-time streams).

    .venv/bin/python benchmarks/stream_load.py                      # 50 streams, paced
    .venv/bin/python benchmarks/stream_load.py --ramp 50,75,100,125  # the real-time capacity
    .venv/bin/python benchmarks/stream_load.py --unpaced

Results are appended to benchmarks/results/stream_load.jsonl (one JSON object per run) and printed.
Traffic goes to 127.0.0.1 only; every run is bounded in streams and time and stops by itself.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "stream_load.jsonl"


def make_streams(n: int, seed: int = 0) -> list[tuple[np.ndarray, int]]:
    """n inputs of real speech: a 3-digit FSDD string (one speaker, 0.3 s gaps), 1.2 s of silence,
    a Speech Commands word, 2 s of trailing silence; every 4th at 48 kHz. (int16 wave, rate)."""
    rng = random.Random(seed)
    fsdd = sorted((ROOT / "tests" / "data" / "fsdd").glob("*.wav"))
    commands = sorted((ROOT / "tests" / "data" / "speech_commands").glob("*.wav"))
    by_speaker: dict[str, list[Path]] = {}
    for p in fsdd:
        by_speaker.setdefault(p.stem.split("_")[1], []).append(p)

    def read16(p):
        w, sr = sf.read(p, dtype="float32")
        return w if sr == 16000 else soxr.resample(w, sr, 16000).astype(np.float32)

    out = []
    for i in range(n):
        speaker = rng.choice(sorted(by_speaker))
        digits = [read16(p) for p in rng.sample(by_speaker[speaker], 3)]
        gap = np.zeros(int(0.3 * 16000), np.float32)
        parts = [np.zeros(8000, np.float32), digits[0], gap, digits[1], gap, digits[2],
                 np.zeros(int(1.2 * 16000), np.float32), read16(rng.choice(commands)), np.zeros(32000, np.float32)]
        wave, rate = np.concatenate(parts), 16000
        if i % 4 == 3:
            wave, rate = soxr.resample(wave, 16000, 48000).astype(np.float32), 48000
        out.append(((np.clip(wave, -1, 1) * 32767).astype(np.int16), rate))
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(workers: int, model: str, lookahead: float) -> tuple[subprocess.Popen, str]:
    import urllib.request
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "lstm_asr.cli", "serve", "--port", str(port), "--max-streams", "1000",
                             "--model", model, "--lookahead", str(lookahead), "--workers", str(workers),
                             "--log-level", "warning"], cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            with urllib.request.urlopen(url + "/health", timeout=2):
                return proc, url
        except OSError:
            time.sleep(0.2)
        if proc.poll() is not None:
            break
    proc.kill()
    raise SystemExit("the server did not start")


async def one_stream(url: str, wave: np.ndarray, rate: int, delay: float, paced: bool, timeout: float) -> dict:
    from websockets.asyncio.client import connect
    await asyncio.sleep(delay)
    frame = rate // 10
    raw = wave.astype("<i2").tobytes()
    sent: list[float] = []  # wall time each 100 ms frame was sent
    got: list[tuple[float, dict]] = []
    async with connect(f"{url.replace('http', 'ws')}/v1/stream?sample_rate={rate}", max_size=None,
                       open_timeout=60, close_timeout=30) as ws:
        async def receive():
            async for m in ws:
                got.append((time.monotonic(), json.loads(m)))
        reader = asyncio.create_task(receive())
        t0 = time.monotonic()
        for k in range(0, len(wave), frame):
            if paced:
                await asyncio.sleep(max(0.0, t0 + k / rate - time.monotonic()))
            sent.append(time.monotonic())
            await ws.send(raw[2 * k:2 * (k + frame)])
        end_sent = time.monotonic()
        await ws.send(json.dumps({"event": "end"}))
        await asyncio.wait_for(reader, timeout)
    finals = [(t, m) for t, m in got if m["type"] == "final"]
    latencies = []
    for t, m in finals:
        if m.get("words"):
            speech_end = m["words"][-1]["end"]  # seconds of the stream
            k = min(int(speech_end * 10), len(sent) - 1)  # the frame that carried that sample
            latencies.append(t - sent[k])
    return {"text": " ".join(m["text"] for _, m in finals if m["text"]), "latencies": latencies,
            "partials": sum(m["type"] == "partial" for _, m in got), "errors": [m for _, m in got if m["type"] == "error"],
            "audio_s": len(wave) / rate, "wall_s": time.monotonic() - t0,
            "after_end_s": (finals[-1][0] - end_sent) if finals else None}


async def run_load(url: str, streams, paced: bool, spread: float, timeout: float) -> tuple[list[dict], float]:
    t = time.monotonic()
    delays = [spread * i / max(1, len(streams)) for i in range(len(streams))]
    res = await asyncio.gather(*(one_stream(url, w, r, d, paced, timeout) for (w, r), d in zip(streams, delays)))
    return list(res), time.monotonic() - t


def summarize(n: int, results: list[dict], expected: list[str], wall: float, paced: bool) -> dict:
    lat = np.array([x for r in results for x in r["latencies"]])
    wrong = [i for i, (r, e) in enumerate(zip(results, expected)) if r["text"] != e]
    audio = sum(r["audio_s"] for r in results)
    return {"streams": n, "paced": paced, "finals_equal_offline": f"{n - len(wrong)}/{n}", "wrong": wrong[:10],
            "errors": sum(len(r["errors"]) for r in results),
            "latency_p50_s": round(float(np.percentile(lat, 50)), 3) if len(lat) else None,
            "latency_p95_s": round(float(np.percentile(lat, 95)), 3) if len(lat) else None,
            "latency_max_s": round(float(lat.max()), 3) if len(lat) else None, "finals_timed": int(len(lat)),
            "partials_per_stream": round(float(np.mean([r["partials"] for r in results])), 1),
            "audio_s": round(audio, 1), "wall_s": round(wall, 1),
            "audio_s_per_wall_s": round(audio / wall, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--streams", type=int, default=50)
    ap.add_argument("--ramp", default=None, metavar="N1,N2,...", help="paced runs with these stream counts")
    ap.add_argument("--unpaced", action="store_true", help="send as fast as possible (throughput)")
    ap.add_argument("--spread", type=float, default=2.0, help="seconds over which the streams start")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--model", default="digits-commands", help="model served")
    ap.add_argument("--lookahead", type=float, default=4.0,
                    help="seconds a stream's model reads ahead (0: each segment whole, partials re-decode it)")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds a stream may wait for its results")
    args = ap.parse_args()
    import torch
    torch.set_num_threads(1)
    sys.path.insert(0, str(ROOT / "src"))
    import lstm_asr

    counts = [int(x) for x in args.ramp.split(",")] if args.ramp else [args.streams]
    all_streams = make_streams(max(counts))
    rec = lstm_asr.load_model(args.model)
    expected = [rec.with_lookahead(args.lookahead or None).transcribe(w, r).text for w, r in all_streams]
    machine = {"cpus": os.cpu_count(), "cpu": platform.processor() or platform.machine(),
               "loadavg_before": [round(x, 2) for x in os.getloadavg()]}
    proc, url = start_server(args.workers, args.model, args.lookahead)
    rows = []
    try:
        baseline = None
        for n in counts:
            results, wall = asyncio.run(run_load(url, all_streams[:n], not args.unpaced, args.spread, args.timeout))
            row = summarize(n, results, expected[:n], wall, not args.unpaced)
            ok = row["finals_equal_offline"] == f"{n}/{n}" and not row["errors"]
            if baseline is None:
                baseline = row["latency_p95_s"]
            row["real_time"] = bool(ok and not args.unpaced and row["latency_p95_s"] is not None
                                    and row["latency_p95_s"] <= baseline + 1.0)
            row.update(machine=machine, workers=args.workers, model=args.model, lookahead_s=args.lookahead, command="python " + " ".join(sys.argv),
                       date=time.strftime("%Y-%m-%d %H:%M"))
            print(json.dumps(row), flush=True)
            rows.append(row)
            RESULTS.parent.mkdir(parents=True, exist_ok=True)
            with open(RESULTS, "a") as f:
                f.write(json.dumps(row) + "\n")
            if not args.unpaced and not row["real_time"]:
                break
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    if args.ramp:
        sustained = [r["streams"] for r in rows if r["real_time"]]
        print(f"real-time streams sustained: {max(sustained) if sustained else 0} (of {counts} tried)")


if __name__ == "__main__":
    main()
