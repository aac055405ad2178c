"""How soon do words appear while someone speaks? Partial results of the default model read a segment
at a time against the same model run with a look-ahead, fed the same audio chunk by chunk.

Each test recording (Speech Commands digit strings by speakers no model trained on,
``data/digits-commands/test_sc_seq.jsonl``, with word times in the manifest) is fed to a
:class:`lstm_asr.streaming.StreamingRecognizer` in 100 ms chunks with a partial result due after
every chunk. For each word of each final result, its *emission delay* is the audio position
(seconds fed) at which a result (partial or final) first showed the final's words up to and including
it, minus the end of that word in the reference. It is algorithmic (counted in audio, not wall time,
so the machine's speed does not enter it). Also measured: the CPU seconds each model spends per
second of audio with partials this often, and whether the joined finals equal the offline transcript.

* ``--lookaheads 0``: the bidirectional model reads each segment whole and re-decodes the open
  segment for every partial;
* ``--lookaheads 4`` (the default of ``lstm-asr stream``): it runs latency-controlled on the audio as
  it arrives, and a partial decodes its outputs so far: final ones, and for the rest provisional
  ones computed as if the stream ended there.

    .venv/bin/python benchmarks/partial_latency.py [--n 100] [--manifest ...] [--lookaheads 0,4]

Prints a table and appends one JSON object per run to benchmarks/results/partial_latency.jsonl
(rows before 2026-12-04 name the look-ahead 4 run "digits-commands-streaming").
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
from lstm_asr.data import read_manifest
from lstm_asr.streaming import StreamingRecognizer, join_finals

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "partial_latency.jsonl"
CHUNK = 1600  # 100 ms at 16 kHz


def delays(events: list[tuple[float, object]], reference_words: list[dict]) -> tuple[list[float], int]:
    """(position, event) pairs of one recording -> emission delays of the words of its finals
    that match the reference words (same word, same place), and how many reference words matched."""
    out, matched = [], 0
    ref = [w["word"] for w in reference_words]
    finals = [(pos, e) for pos, e in events if e.type == "final" and e.text]
    said: list[str] = []  # the finals' words so far, in order
    for pos, final in finals:
        words = final.text.split()
        shown = [(p, e.text.split()) for p, e in events if e.type == "partial" and e.start == final.start and p <= pos]
        for k, word in enumerate(words):
            index = len(said) + k
            if index >= len(ref) or ref[index] != word:
                continue
            first = min([p for p, w in shown if w[:k + 1] == words[:k + 1]] + [pos])
            out.append(first - reference_words[index]["end"])
            matched += 1
        said += words
    return out, matched


def run(model, items, partial_every: float, lookahead_s: float | None) -> dict:
    torch.set_num_threads(1)
    all_delays, matched, total, same, cpu, audio_s = [], 0, 0, 0, 0.0, 0.0
    for path, item in items:
        wave, rate = load_audio(path), 16000
        offline = model.with_lookahead(lookahead_s).transcribe(wave, rate).text
        live = StreamingRecognizer(model, rate, partial_interval=partial_every, lookahead_s=lookahead_s)
        events = []
        t0 = time.process_time()
        for i in range(0, len(wave), CHUNK):
            pos = min(i + CHUNK, len(wave)) / rate
            events += [(pos, e) for e in live.accept(wave[i:i + CHUNK])]
        events += [(len(wave) / rate, e) for e in live.finish()]
        cpu += time.process_time() - t0
        audio_s += len(wave) / rate
        d, m = delays(events, item.extra["words"])
        all_delays += d
        matched += m
        total += len(item.extra["words"])
        same += join_finals([e for _, e in events]) == offline
    d = np.array(all_delays)
    return {"model": model.config.get("name"), "lookahead_s": lookahead_s, "recordings": len(items), "words": total,
            "words_right": matched, "finals_equal_offline": same,
            "delay_p50_s": round(float(np.percentile(d, 50)), 3) if len(d) else None,
            "delay_p95_s": round(float(np.percentile(d, 95)), 3) if len(d) else None,
            "delay_mean_s": round(float(d.mean()), 3) if len(d) else None,
            "cpu_s_per_audio_s": round(cpu / audio_s, 4), "partial_every_s": partial_every}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--manifest", default=str(ROOT / "data" / "digits-commands" / "test_sc_seq.jsonl"))
    ap.add_argument("--n", type=int, default=100, help="recordings (the manifest's first N)")
    ap.add_argument("--model", default="digits-commands")
    ap.add_argument("--lookaheads", default="0,4", help="seconds of look-ahead to compare (0: segments read whole)")
    ap.add_argument("--partial-every", type=float, default=0.1, help="seconds of audio between partials")
    args = ap.parse_args()
    manifest = Path(args.manifest)
    if not manifest.exists():
        raise SystemExit(f"{manifest}: no such manifest (python recipes/digits-commands/prepare.py makes it)")
    utts = read_manifest(manifest).utterances[:args.n]
    items = [(u.audio, u) for u in utts]
    if not all(u.extra.get("words") for u in utts):
        raise SystemExit(f"{manifest}: every line needs word times ('words') for the delays")
    rows = []
    model = lstm_asr.load_model(args.model)
    for lookahead in (float(s) for s in args.lookaheads.split(",")):
        row = run(model, items, args.partial_every, lookahead or None)
        row.update(manifest=str(args.manifest), date=time.strftime("%Y-%m-%d"), machine=platform.machine(),
                   cpus=len(__import__("os").sched_getaffinity(0)), torch=torch.__version__,
                   command="python benchmarks/partial_latency.py " + f"--n {args.n}")
        rows.append(row)
        print(json.dumps(row))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    print(f"\n{'model, look-ahead':28} {'words right':>12} {'p50 delay':>10} {'p95 delay':>10} {'CPU s / audio s':>16}")
    for r in rows:
        print(f"{r['model'] + ', ' + str(r['lookahead_s']):28} {r['words_right']:>5}/{r['words']:<6} {r['delay_p50_s']:>10} "
              f"{r['delay_p95_s']:>10} {r['cpu_s_per_audio_s']:>16}")


if __name__ == "__main__":
    main()
