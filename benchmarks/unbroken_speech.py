"""Live recognition of speech without pauses: does the cost per audio second grow with its length?

The FSDD clips of tests/data/fsdd played back to back (little silence between them, so the speech
segmenter finds few pauses and a segment grows to its 20 s limit) are fed to a
:class:`lstm_asr.streaming.StreamingRecognizer` in 100 ms chunks with a partial result every
``--partial-every`` seconds, for each length and look-ahead; CPU seconds per audio second, one thread.

* ``--lookaheads 0``: the default model reads each segment whole and re-decodes the open segment
  for every partial: its cost per partial grows with the segment;
* ``--lookaheads 4``: it runs on the audio as it arrives, each output once; a partial decodes its
  outputs so far.

    .venv/bin/python benchmarks/unbroken_speech.py [--seconds 10,30] [--partial-every 0.5] [--lookaheads 0,4]

Prints one JSON object per run and appends them to benchmarks/results/unbroken_speech.jsonl.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

import lstm_asr
from lstm_asr.audio import load_audio
from lstm_asr.streaming import StreamingRecognizer

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "unbroken_speech.jsonl"
CHUNK = 1600  # 100 ms at 16 kHz


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", default="10,30", help="lengths of unbroken speech to feed")
    ap.add_argument("--model", default="digits-commands")
    ap.add_argument("--lookaheads", default="0,4", help="seconds of look-ahead to compare (0: segments read whole)")
    ap.add_argument("--partial-every", type=float, default=0.5, help="seconds of audio between partials")
    args = ap.parse_args()
    torch.set_num_threads(1)
    speech = np.concatenate([load_audio(p) for p in sorted((ROOT / "tests" / "data" / "fsdd").glob("*.wav"))])
    rows = []
    for seconds in (int(s) for s in args.seconds.split(",")):
        if seconds * 16000 > len(speech):
            raise SystemExit(f"--seconds {seconds}: tests/data/fsdd holds {len(speech) / 16000:.0f} s of speech")
        wave = speech[:seconds * 16000]
        for lookahead in (float(s) for s in args.lookaheads.split(",")):
            live = StreamingRecognizer(lstm_asr.load_model(args.model), 16000, partial_interval=args.partial_every,
                                       lookahead_s=lookahead or None)
            events = []
            t0 = time.process_time()
            for i in range(0, len(wave), CHUNK):
                events += live.accept(wave[i:i + CHUNK])
            events += live.finish()
            cpu = time.process_time() - t0
            row = {"model": args.model, "lookahead_s": lookahead or None, "seconds": seconds, "cpu_s_per_audio_s": round(cpu / seconds, 4),
                   "finals": sum(e.type == "final" for e in events),
                   "partials": sum(e.type == "partial" for e in events), "partial_every_s": args.partial_every,
                   "date": time.strftime("%Y-%m-%d"), "machine": platform.machine(), "torch": torch.__version__,
                   "command": f"python benchmarks/unbroken_speech.py --seconds {args.seconds}"}
            rows.append(row)
            print(json.dumps(row), flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
