"""Long-audio transcription: peak memory (RSS) and real-time factor for 1 hour of speech.

    python benchmarks/long_audio.py [--minutes 60] [--threads 1]

Builds the recording with benchmarks/make_long_audio.py (real FSDD digit strings with pauses and
light noise), runs `lstm-asr transcribe --json` on it in a child process, and reports the child's
peak RSS (getrusage), the real-time factor (wall time / audio duration), the number of JSON
segment lines, and the WER of all segment texts joined against the reference. Appends a row to
benchmarks/results/long_audio.jsonl.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))
import make_long_audio  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--model", default=None)
    ap.add_argument("--work", default="/tmp/lstm_asr_long")
    ap.add_argument("--no-record", action="store_true", help="do not append to benchmarks/results/long_audio.jsonl")
    a = ap.parse_args()
    wav, ref = make_long_audio.ensure(a.minutes, a.work, "long")
    env = {**os.environ, "OMP_NUM_THREADS": str(a.threads)}
    cmd = [sys.executable, "-m", "lstm_asr.cli", "transcribe", "--json", "--no-progress", str(wav)]
    if a.model:
        cmd[4:4] = ["--model", a.model]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
    wall = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    segs = [json.loads(line) for line in out.splitlines()]
    hyp = " ".join(s["text"] for s in segs)
    refs = [json.loads(line)["text"] for line in ref.read_text().splitlines()]
    from lstm_asr.metrics import wer
    import soundfile as sf
    duration = sf.info(str(wav)).duration
    row = {"minutes": round(duration / 60, 2), "peak_rss_mb": round(peak_mb, 1), "rtf": round(wall / duration, 4),
           "wall_s": round(wall, 1), "segments": len(segs), "wer": round(wer([" ".join(refs)], [hyp]), 4),
           "threads": a.threads, "machine": f"{platform.machine()} {os.cpu_count()} cores",
           "date": time.strftime("%Y-%m-%d"), "command": " ".join(["python", "benchmarks/long_audio.py"] + sys.argv[1:])}
    print(json.dumps(row))
    if a.no_record:
        return 0
    res = ROOT / "benchmarks" / "results"
    res.mkdir(exist_ok=True)
    with open(res / "long_audio.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
