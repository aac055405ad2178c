"""Are words at segment edges recognised as well as in whole decoding?

    python benchmarks/segment_context.py [--minutes 10] [--model NAME|DIR]

Builds a recording of real FSDD digit strings separated by pauses (benchmarks/make_long_audio.py,
test speakers), then decodes it three ways with the same model and decoder:

* ``whole``     the entire recording as one utterance (one forward pass, no segmentation);
* ``pipeline``  ``Recognizer.transcribe``: the speech segmenter cuts it, each segment is decoded;
* ``oracle``    each reference string cut out at its true bounds +- 0.1 s and decoded alone.

Each hypothesis word is given to the reference string nearest its middle (by the word
timestamps), and the table gives the WER, and how often the first and the last word of a string
is wrong (the words next to a segment edge). Appends a row to benchmarks/results/segment_context.jsonl.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))
import make_long_audio  # noqa: E402


def assign(words: list[dict], refs: list[dict]) -> list[list[str]]:
    """Hypothesis words -> one word list per reference string (the string nearest the word's middle)."""
    out: list[list[str]] = [[] for _ in refs]
    for w in words:
        mid = (w["start"] + w["end"]) / 2
        k = min(range(len(refs)), key=lambda i: max(refs[i]["start"] - mid, mid - refs[i]["end"], 0.0))
        out[k].append(w["word"])
    return out


def score(hyp_words: list[list[str]], refs: list[dict]) -> dict:
    from lstm_asr.metrics import wer
    ref_words = [r["text"].split() for r in refs]
    first = sum(not h or h[0] != r[0] for h, r in zip(hyp_words, ref_words))
    last = sum(not h or h[-1] != r[-1] for h, r in zip(hyp_words, ref_words))
    return {"wer": round(100 * wer([" ".join(r) for r in ref_words], [" ".join(h) for h in hyp_words]), 2),
            "first_word_err": round(100 * first / len(refs), 2), "last_word_err": round(100 * last / len(refs), 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--model", default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--work", default="/tmp/lstm_asr_long")
    ap.add_argument("--no-record", action="store_true")
    a = ap.parse_args()
    import torch

    import lstm_asr
    from lstm_asr.audio import SAMPLE_RATE, load_audio
    from lstm_asr.segment import Segment
    torch.set_num_threads(a.threads)
    wav, ref = make_long_audio.ensure(a.minutes, a.work, "context")
    refs = [json.loads(line) for line in ref.read_text().splitlines()]
    rec = lstm_asr.load_model(a.model)
    wave = load_audio(wav)
    rows = {}
    whole = rec.decode_segments([Segment(0.0, len(wave) / SAMPLE_RATE, wave)])[0]
    rows["whole"] = score(assign(whole.words, refs), refs)
    t = rec.transcribe(wav)
    rows["pipeline"] = score(assign(t.words, refs), refs) | {"segments": len(t.segments)}
    cut = []
    for r in refs:
        s, e = max(0.0, r["start"] - 0.1), min(len(wave) / SAMPLE_RATE, r["end"] + 0.1)
        cut.append(Segment(s, e, wave[round(s * SAMPLE_RATE):round(e * SAMPLE_RATE)]))
    oracle = [w for k in range(0, len(cut), 32) for seg in rec.decode_segments(cut[k:k + 32]) for w in seg.words]
    rows["oracle"] = score(assign(oracle, refs), refs)
    row = {"minutes": round(len(wave) / SAMPLE_RATE / 60, 2), "strings": len(refs), "model": a.model or "default",
           **rows, "machine": f"{platform.machine()} {os.cpu_count()} cores", "date": time.strftime("%Y-%m-%d"),
           "command": " ".join(["python", "benchmarks/segment_context.py"] + sys.argv[1:])}
    for k in ("whole", "pipeline", "oracle"):
        print(f"{k:9s} WER {rows[k]['wer']:6.2f} %   first word wrong {rows[k]['first_word_err']:6.2f} %   "
              f"last word wrong {rows[k]['last_word_err']:6.2f} %")
    if not a.no_record:
        with open(ROOT / "benchmarks" / "results" / "segment_context.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
